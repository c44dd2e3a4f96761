// Command emuseed creates, in the official emulators of docker-compose.yaml, what
// Bicep creates in Azure and `localazure up` creates in its stand-ins: the Cosmos DB
// databases and containers, the blob containers and the Key Vault secrets listed in
// localazure.json's LocalAzure section (one list for every environment). Existing
// resources are left alone, so it runs on every `docker compose up`.
//
//	emuseed -config /localazure.json
//
// Connection settings come from the services' own variables (docs/names.md):
// COSMOS_ENDPOINT + COSMOS_KEY, STORAGE_CONNECTION_STRING, KEYVAULT_URL.
// Emulator use only: it skips TLS verification for Lowkey Vault's self-signed certificate.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

func main() {
	path := flag.String("config", "localazure.json", "localazure.json to read the resources from")
	wait := flag.Duration("wait", 3*time.Minute, "how long to retry while an emulator is still starting")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("emuseed: ")

	// The same strict loader as `localazure up`: a file the stand-ins would refuse is
	// refused here too, with the same field-naming message.
	cfg, err := stackconfig.Load(*path)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	if err := seed(ctx, cfg.LocalAzure, os.Getenv, log.Printf); err != nil {
		log.Fatal(err)
	}
}

// seed creates every resource, each step retried until ctx ends.
func seed(ctx context.Context, la stackconfig.LocalAzure, getenv func(string) string, logf func(string, ...any)) error {
	steps, err := plan(la, getenv)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if err := retry(ctx, s.run); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		logf("%s: ok", s.what)
	}
	return nil
}

type step struct {
	what string
	run  func(context.Context) error
}

func retry(ctx context.Context, f func(context.Context) error) error {
	for {
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := f(tctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(2 * time.Second):
		}
	}
}
