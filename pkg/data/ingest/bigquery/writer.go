package bigquery

import (
	"context"
	"fmt"

	"cloud.google.com/go/bigquery/storage/managedwriter"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// NewWriter opens a Storage Write API client for project. endpoint is an emulator's gRPC
// host:port (plaintext, no authentication); empty means BigQuery with the Google default
// credentials.
func NewWriter(ctx context.Context, project, endpoint string) (*managedwriter.Client, error) {
	var opts []option.ClientOption
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	c, err := managedwriter.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("ingest bigquery: storage write client: %w", err)
	}
	return c, nil
}
