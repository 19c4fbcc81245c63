package lint

import (
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/diag"
)

// checkCredentialsStore checks an environment's credentials.store: file://<folder> or
// gcpsm://projects/<project>, and not together with credentials_dir (which would be ignored).
func checkCredentialsStore(p *config.Project, name string, env config.Environment) diag.List {
	if env.Credentials.Store == "" {
		return nil
	}
	at := p.Pos("environments." + name + ".credentials.store")
	if _, _, err := config.ParseCredentialsStore(env.Credentials.Store); err != nil {
		return diag.List{diag.Errorf(at, ruleConfig, "environment %q: %v", name, err)}
	}
	if env.CredentialsDir != "" {
		return diag.List{diag.Errorf(at, ruleConfig, "environment %q: credentials_dir and credentials.store are both set; keep credentials.store (file://%s for the same folder)", name, env.CredentialsDir)}
	}
	return nil
}
