package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/contoso/orderflow/platform/azure"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

// plan turns the configuration into steps, failing early on a missing setting.
func plan(la stackconfig.LocalAzure, getenv func(string) string) ([]step, error) {
	var steps []step
	if len(la.Cosmos.Databases) > 0 {
		endpoint, key := getenv("COSMOS_ENDPOINT"), getenv("COSMOS_KEY")
		if endpoint == "" || key == "" {
			return nil, errors.New("COSMOS_ENDPOINT and COSMOS_KEY are required")
		}
		cred, err := azcosmos.NewKeyCredential(key)
		if err != nil {
			return nil, fmt.Errorf("COSMOS_KEY: %w", err)
		}
		client, err := azcosmos.NewClientWithKey(endpoint, cred, nil)
		if err != nil {
			return nil, err
		}
		for _, db := range la.Cosmos.Databases {
			steps = append(steps, step{"cosmos database " + db.ID, func(ctx context.Context) error {
				_, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: db.ID}, nil)
				return exists(err)
			}})
			for _, c := range db.Containers {
				steps = append(steps, step{"cosmos container " + db.ID + "/" + c.ID, func(ctx context.Context) error {
					d, err := client.NewDatabase(db.ID)
					if err != nil {
						return err
					}
					_, err = d.CreateContainer(ctx, azcosmos.ContainerProperties{
						ID: c.ID,
						PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{
							Kind: azcosmos.PartitionKeyKindHash, Paths: []string{c.PartitionKeyPath}, Version: 2,
						},
					}, nil)
					return exists(err)
				}})
			}
		}
	}
	if len(la.Storage.Containers) > 0 {
		conn := getenv("STORAGE_CONNECTION_STRING")
		if conn == "" {
			return nil, errors.New("STORAGE_CONNECTION_STRING is required")
		}
		client, err := azblob.NewClientFromConnectionString(conn, nil)
		if err != nil {
			return nil, err
		}
		for _, name := range la.Storage.Containers {
			steps = append(steps, step{"blob container " + name, func(ctx context.Context) error {
				_, err := client.CreateContainer(ctx, name, nil)
				return exists(err)
			}})
		}
	}
	if len(la.KeyVault.Secrets) > 0 {
		vault := getenv("KEYVAULT_URL")
		if vault == "" {
			return nil, errors.New("KEYVAULT_URL is required")
		}
		client, err := azsecrets.NewClient(vault, anyToken{}, &azsecrets.ClientOptions{
			ClientOptions: azcore.ClientOptions{Transport: &http.Client{
				Timeout: 15 * time.Second,
				// Lowkey Vault's self-signed certificate; this binary only ever talks to emulators.
				Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec
			},
				// The api-version the pinned Lowkey Vault serves (shared with the app).
				APIVersion: azure.EmulatorKeyVaultAPIVersion,
			},
			// The emulator's host is not under vault.azure.net.
			DisableChallengeResourceVerification: true,
		})
		if err != nil {
			return nil, err
		}
		for _, s := range la.KeyVault.Secrets {
			steps = append(steps, step{"secret " + s.Name, func(ctx context.Context) error {
				_, err := client.GetSecret(ctx, s.Name, "", nil)
				if err == nil {
					return nil // present: never replace a key the services may already use
				}
				if !isStatus(err, http.StatusNotFound) {
					return err
				}
				value, err := s.ResolveValue(nil)
				if err != nil {
					return err
				}
				_, err = client.SetSecret(ctx, s.Name, azsecrets.SetSecretParameters{Value: &value, ContentType: &s.ContentType}, nil)
				return err
			}})
		}
	}
	return steps, nil
}

// exists treats "already there" (409) as success.
func exists(err error) error {
	if err == nil || isStatus(err, http.StatusConflict) {
		return nil
	}
	return err
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// anyToken is the bearer token Lowkey Vault accepts: any.
type anyToken struct{}

func (anyToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "emulator", ExpiresOn: time.Now().Add(time.Hour)}, nil
}
