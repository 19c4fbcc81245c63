// Command evctl is event contracts as code. Everything lives in pkg/cli; this file only exits.
package main

import (
	"os"

	"github.com/evctl/evctl/pkg/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
