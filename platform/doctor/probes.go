package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/internal/azerr"
	"github.com/contoso/orderflow/platform/keyvault"
)

// Role names, as Azure (and localazure.json) spell them.
const (
	roleSecretsUser     = "Key Vault Secrets User"
	roleCosmosContrib   = "Cosmos DB Built-in Data Contributor"
	roleBlobReader      = "Storage Blob Data Reader"
	roleBlobContributor = "Storage Blob Data Contributor"
	roleSBSender        = "Azure Service Bus Data Sender"
	roleSBReceiver      = "Azure Service Bus Data Receiver"
)

// grant says where a permission is assigned: the role, the Bicep module and the
// parameter of infra/main.bicep that lists the principals, and the local scope.
type grant struct {
	role, bicep, param, localScope string
}

func (g grant) fix(service string) string {
	return fmt.Sprintf("grant the %s identity %s: %s (%s in infra/main.bicep), then wait a few minutes for the assignment to apply; "+
		"locally, add {\"principal\": %q, \"role\": %q, \"scope\": %q} to LocalAzure.roleAssignments in localazure.json",
		service, g.role, g.bicep, g.param, service, g.role, g.localScope)
}

// probe is one data-plane permission the service needs.
type probe struct {
	name  string
	grant grant
	entra bool // authenticated with the Entra token (not an emulator key)
	write bool // changes something: only with --write
	run   func(ctx context.Context) (detail string, err error)
	// explain turns err into a detail and fix; nil = the generic explanation.
	explain func(err error) (Status, string, string)
}

// dataPlane runs the probes the service needs. why, when not "", is why the probes
// that need an Entra token cannot run.
func (d *run) dataPlane(ctx context.Context, cfg config.Config, clients *azure.Clients, why string) {
	if clients == nil {
		d.add(Row{Name: "permissions", Status: Skipped, Detail: "no clients: " + why})
		return
	}
	for _, p := range d.probes(cfg, clients) {
		row := Row{Name: p.name}
		switch {
		case p.entra && why != "":
			row.Status, row.Detail = Skipped, why
		case p.write && !d.o.Write:
			row.Status, row.Detail = Skipped, "writes: run with --write to check "+p.grant.role
		default:
			cctx, cancel := d.ctx(ctx)
			detail, err := p.run(cctx)
			cancel()
			if err == nil {
				row.Status, row.Detail = OK, detail
				if p.entra {
					row.Detail += " (" + p.grant.role + ")"
				}
			} else if p.explain != nil {
				row.Status, row.Detail, row.Fix = p.explain(err)
			} else {
				row.Status, row.Detail, row.Fix = d.explainData(err, p)
			}
		}
		d.add(row)
	}
}

// explainData is the common reading of a data-plane error: 401/403 is a role
// assignment, a network error an endpoint, anything else is shown as is.
func (d *run) explainData(err error, p probe) (Status, string, string) {
	msg := oneLine(err.Error())
	var sbe *azservicebus.Error
	if errors.As(err, &sbe) {
		switch sbe.Code {
		case azservicebus.CodeUnauthorizedAccess:
			return Problem, "denied (" + string(sbe.Code) + "): " + shorten(msg), p.grant.fix(d.o.Service)
		case azservicebus.CodeNotFound:
			return Problem, "entity not found: " + shorten(msg), "create it (infra/modules/servicebus.bicep) or correct ORDERS_QUEUE / EVENTS_TOPIC / EVENTS_SUBSCRIPTION"
		}
	}
	switch s := azerr.StatusCode(err); s {
	case 401:
		return Problem, "401: the service did not accept the token: " + shorten(msg),
			"the token's audience or tenant is not the resource's: check the endpoint variables and AZURE_TENANT_ID"
	case 403:
		return Problem, "403, no role grants this: " + shorten(msg), p.grant.fix(d.o.Service)
	case 0:
		_, reason := azerr.Classify(err)
		return Problem, reason + ": " + shorten(msg), "check the endpoint variable and that this pod may reach it (NetworkPolicy, private endpoint DNS, firewall)"
	default:
		return Problem, fmt.Sprintf("unexpected status %d: %s", s, shorten(msg)), ""
	}
}

// shorten keeps an SDK error's first sentence-sized part: the full text repeats
// headers and request ids that do not help here.
func shorten(msg string) string {
	const max = 300
	if len(msg) > max {
		return msg[:max] + "…"
	}
	return msg
}

// probes lists what the service needs, as infra/main.bicep grants it: the frontend
// stores attachments, serves receipts, sends OrderPlaced and reads OrderCompleted;
// the backend writes receipts, receives OrderPlaced and publishes OrderCompleted.
// Both read the signing key and read and write orders.
func (d *run) probes(cfg config.Config, c *azure.Clients) []probe {
	service := d.o.Service
	ps := []probe{
		{
			name:  "keyvault-secret",
			grant: grant{roleSecretsUser, "infra/modules/keyvault.bicep", "readerPrincipalIds of the keyVault module", "keyvault"},
			entra: !cfg.KeyVault.Emulator,
			run: func(ctx context.Context) (string, error) {
				// The service's own adapter: it also checks the key is usable.
				if err := keyvault.New(c.Secrets, cfg.KeyVault.SecretName, time.Hour, nil).Refresh(ctx); err != nil {
					return "", err
				}
				return "read secret " + cfg.KeyVault.SecretName + " from " + cfg.KeyVault.URL, nil
			},
		},
		{
			name:  "cosmos-read",
			grant: grant{roleCosmosContrib, "infra/modules/cosmos.bicep", "contributorPrincipalIds of the cosmos module", "cosmos/dbs/" + cfg.Cosmos.Database},
			entra: cfg.Cosmos.Key == "",
			run: func(ctx context.Context) (string, error) {
				return cosmosRead(ctx, c.Orders, cfg.Cosmos)
			},
		},
	}
	attachments := blobGrant(cfg.Storage.AttachmentsContainer, "attachmentsAssignments of the storage module")
	receipts := blobGrant(cfg.Storage.ReceiptsContainer, "receiptsAssignments of the storage module")
	entraBlob := cfg.Storage.ConnectionString == ""
	entraSB := cfg.ServiceBus.ConnectionString == ""
	sb := cfg.ServiceBus
	switch service {
	case config.Frontend:
		ps = append(ps,
			d.blobRead(c, cfg.Storage.AttachmentsContainer, attachments.with(roleBlobContributor), entraBlob),
			d.blobWrite(c, cfg.Storage.AttachmentsContainer, attachments.with(roleBlobContributor), entraBlob),
			d.blobRead(c, cfg.Storage.ReceiptsContainer, receipts.with(roleBlobReader), entraBlob),
			d.sbSend(c, sb.OrdersQueue, grant{roleSBSender, "infra/modules/servicebus.bicep", "queueAssignments of the serviceBus module", "servicebus/" + sb.OrdersQueue}, entraSB),
			d.sbPeek(c, sb.EventsTopic, sb.EventsSubscription, grant{roleSBReceiver, "infra/modules/servicebus.bicep", "subscriptionAssignments of the serviceBus module",
				"servicebus/" + sb.EventsTopic + "/subscriptions/" + sb.EventsSubscription}, entraSB),
		)
	case config.Backend:
		ps = append(ps,
			d.blobRead(c, cfg.Storage.ReceiptsContainer, receipts.with(roleBlobContributor), entraBlob),
			d.blobWrite(c, cfg.Storage.ReceiptsContainer, receipts.with(roleBlobContributor), entraBlob),
			d.sbPeek(c, sb.OrdersQueue, "", grant{roleSBReceiver, "infra/modules/servicebus.bicep", "queueAssignments of the serviceBus module", "servicebus/" + sb.OrdersQueue}, entraSB),
			d.sbSend(c, sb.EventsTopic, grant{roleSBSender, "infra/modules/servicebus.bicep", "topicAssignments of the serviceBus module", "servicebus/" + sb.EventsTopic}, entraSB),
		)
	}
	return ps
}

func blobGrant(container, param string) grant {
	return grant{bicep: "infra/modules/storage.bicep", param: param, localScope: "storage/" + container}
}

func (g grant) with(role string) grant { g.role = role; return g }

// cosmosRead reads an item that does not exist: 404 proves the container is there
// and the identity may read it, without needing data. A 404 for the container
// itself (substatus 1003) is a missing container, not a missing item.
func cosmosRead(ctx context.Context, cc *azcosmos.ContainerClient, cfg config.Cosmos) (string, error) {
	_, err := cc.ReadItem(ctx, azcosmos.NewPartitionKeyString("doctor-probe"), "doctor-probe", nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == 404 {
		if re.RawResponse != nil && re.RawResponse.Header.Get("x-ms-substatus") == "1003" {
			return "", fmt.Errorf("database %s or container %s does not exist: %w", cfg.Database, cfg.Container, err)
		}
		err = nil
	}
	if err != nil {
		return "", err
	}
	return "point read in " + cfg.Database + "/" + cfg.Container + " answered as expected (write permission is the same role, not probed)", nil
}

func (d *run) blobRead(c *azure.Clients, container string, g grant, entra bool) probe {
	return probe{
		name: "blob-read:" + container, grant: g, entra: entra,
		run: func(ctx context.Context) (string, error) {
			// List Blobs is a read at the container, and a missing container is its own
			// error code (unlike reading a missing blob, which is 404 either way).
			pager := c.Blob.NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{MaxResults: to.Ptr(int32(1))})
			if _, err := pager.NextPage(ctx); err != nil {
				return "", err
			}
			return "listed container " + container, nil
		},
		explain: d.blobExplain(container, g),
	}
}

func (d *run) blobWrite(c *azure.Clients, container string, g grant, entra bool) probe {
	return probe{
		name: "blob-write:" + container, grant: g, entra: entra, write: true,
		run: func(ctx context.Context) (string, error) {
			name := fmt.Sprintf("doctor-probe/%s-%d", d.o.Service, time.Now().UnixNano())
			if _, err := c.Blob.UploadBuffer(ctx, container, name, []byte("orderflow doctor write probe; safe to delete\n"), nil); err != nil {
				return "", err
			}
			if _, err := c.Blob.DeleteBlob(ctx, container, name, nil); err != nil {
				return "", fmt.Errorf("uploaded %s but could not delete it (delete it by hand): %w", name, err)
			}
			return "uploaded and deleted " + container + "/" + name, nil
		},
		explain: d.blobExplain(container, g),
	}
}

func (d *run) blobExplain(container string, g grant) func(error) (Status, string, string) {
	return func(err error) (Status, string, string) {
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return Problem, "container " + container + " does not exist",
				"create it (infra/modules/storage.bicep; locally LocalAzure.storage.containers) or correct ATTACHMENTS_CONTAINER / RECEIPTS_CONTAINER"
		}
		return d.explainData(err, probe{grant: g})
	}
}

func (d *run) sbPeek(c *azure.Clients, entity, subscription string, g grant, entra bool) probe {
	path := entity
	if subscription != "" {
		path += "/subscriptions/" + subscription
	}
	return probe{
		name: "servicebus-peek:" + strings.ReplaceAll(path, "/subscriptions/", "/"), grant: g, entra: entra,
		run: func(ctx context.Context) (string, error) {
			var r *azservicebus.Receiver
			var err error
			if subscription == "" {
				r, err = c.ServiceBus.NewReceiverForQueue(entity, nil)
			} else {
				r, err = c.ServiceBus.NewReceiverForSubscription(entity, subscription, nil)
			}
			if err != nil {
				return "", err
			}
			defer r.Close(context.WithoutCancel(ctx))
			// Peek needs the same Listen right as receiving, and locks nothing: the
			// running service's messages are untouched.
			ms, err := r.PeekMessages(ctx, 1, nil)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("peeked %s (%d message(s) waiting at the head)", path, len(ms)), nil
		},
	}
}

func (d *run) sbSend(c *azure.Clients, entity string, g grant, entra bool) probe {
	return probe{
		name: "servicebus-send:" + entity, grant: g, entra: entra, write: true,
		run: func(ctx context.Context) (string, error) {
			s, err := c.ServiceBus.NewSender(entity, nil)
			if err != nil {
				return "", err
			}
			defer s.Close(context.WithoutCancel(ctx))
			// Scheduling needs the Send right but delivers nothing now; the message is
			// cancelled at once. Were the cancel lost, it would arrive in a day, and
			// the consumer dead-letters a body that is not an event.
			msg := &azservicebus.Message{Subject: to.Ptr("doctor-probe"), Body: []byte(`{"doctor":"probe"}`)}
			seq, err := s.ScheduleMessages(ctx, []*azservicebus.Message{msg}, time.Now().Add(24*time.Hour), nil)
			if err != nil {
				return "", err
			}
			if err := s.CancelScheduledMessages(ctx, seq, nil); err != nil {
				return "", fmt.Errorf("scheduled a probe message but could not cancel it (it arrives in 24 h and is dead-lettered): %w", err)
			}
			return "scheduled and cancelled a probe message on " + entity, nil
		},
	}
}
