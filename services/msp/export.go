package msp

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// ExportSources are the services an offboarding export reads; Compliance,
// Webhooks and Audit may be nil (their files are then empty).
type ExportSources struct {
	Commands   *commands.Queue
	Compliance *compliance.Compliance
	Webhooks   *events.Webhooks
	Audit      *audit.Store
}

// exportPage is how many records the export reads at a time.
const exportPage = 500

// Export writes t's data as a zip of JSON Lines files, one record a line,
// for an MSP offboarding a tenant: tenant.json, devices.jsonl (with their
// facts and users), groups.jsonl (with their members' ids),
// compliance_rules.jsonl, commands.jsonl (secret payload fields read
// "[redacted]", as the API shows them), webhooks.jsonl (no signing
// secrets) and audit.jsonl. It reads in one read-only transaction of t
// (one snapshot), a page at a time, writing as it goes.
func (s *Service) Export(ctx context.Context, src ExportSources, t tenancy.Tenant, w io.Writer) error {
	ctx = tenancy.WithTenant(ctx, t.ID)
	z := zip.NewWriter(w)
	err := s.db.ReadWithin(ctx, func(ctx context.Context) error {
		if err := writeJSON(z, "tenant.json", events.TenantPayload(t)); err != nil {
			return err
		}
		for _, part := range []struct {
			name string
			each func(ctx context.Context, emit func(any) error) error
		}{
			{"devices.jsonl", s.exportDevices},
			{"groups.jsonl", s.exportGroups},
			{"compliance_rules.jsonl", func(ctx context.Context, emit func(any) error) error { return exportRules(ctx, src.Compliance, emit) }},
			{"commands.jsonl", func(ctx context.Context, emit func(any) error) error { return exportCommands(ctx, src.Commands, emit) }},
			{"webhooks.jsonl", func(ctx context.Context, emit func(any) error) error { return exportWebhooks(ctx, src.Webhooks, emit) }},
			{"audit.jsonl", func(ctx context.Context, emit func(any) error) error { return exportAudit(ctx, src.Audit, emit) }},
		} {
			f, err := z.CreateHeader(&zip.FileHeader{Name: part.name, Method: zip.Deflate, Modified: time.Now()})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(f)
			if err := part.each(ctx, enc.Encode); err != nil {
				return fmt.Errorf("msp: export %s of %s: %w", part.name, t.Slug, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return z.Close()
}

func writeJSON(z *zip.Writer, name string, v any) error {
	f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (s *Service) exportDevices(ctx context.Context, emit func(any) error) error {
	q := inventory.Query{Limit: exportPage}
	for {
		p, err := s.inv.List(ctx, q)
		if err != nil {
			return err
		}
		for _, d := range p.Devices {
			if err := emit(d); err != nil {
				return err
			}
		}
		if len(p.Devices) < exportPage {
			return nil
		}
		q.AfterKey, q.AfterID = p.Keys[len(p.Keys)-1], p.Devices[len(p.Devices)-1].ID
	}
}

// exportedGroup is a group with its members.
type exportedGroup struct {
	inventory.Group
	Members []uuid.UUID `json:"members"`
}

func (s *Service) exportGroups(ctx context.Context, emit func(any) error) error {
	groups, err := s.inv.Groups(ctx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		eg := exportedGroup{Group: g, Members: []uuid.UUID{}}
		q := inventory.Query{Group: g.ID, Limit: exportPage}
		for {
			p, err := s.inv.List(ctx, q)
			if err != nil {
				return err
			}
			for _, d := range p.Devices {
				eg.Members = append(eg.Members, d.ID)
			}
			if len(p.Devices) < exportPage {
				break
			}
			q.AfterKey, q.AfterID = p.Keys[len(p.Keys)-1], p.Devices[len(p.Devices)-1].ID
		}
		if err := emit(eg); err != nil {
			return err
		}
	}
	return nil
}

func exportRules(ctx context.Context, c *compliance.Compliance, emit func(any) error) error {
	if c == nil {
		return nil
	}
	rules, err := c.Rules(ctx)
	for _, r := range rules {
		if err := emit(r); err != nil {
			return err
		}
	}
	return err
}

// emitPages emits each item of the pages fetch reads, a page of
// exportPage at a time, advance moving the cursor past a page's last.
func emitPages[T any](emit func(any) error, fetch func() ([]T, error), advance func(last T)) error {
	for {
		page, err := fetch()
		if err != nil {
			return err
		}
		for _, x := range page {
			if err := emit(x); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		advance(page[len(page)-1])
	}
}

func exportCommands(ctx context.Context, q *commands.Queue, emit func(any) error) error {
	if q == nil {
		return nil
	}
	cq := commands.Query{Limit: exportPage}
	return emitPages(emit, func() ([]commands.Command, error) { return q.List(ctx, cq) }, func(c commands.Command) { cq.After = c.ID })
}

func exportWebhooks(ctx context.Context, w *events.Webhooks, emit func(any) error) error {
	if w == nil {
		return nil
	}
	after := uuid.Nil
	return emitPages(emit, func() ([]events.Endpoint, error) { return w.List(ctx, after, exportPage) }, func(e events.Endpoint) { after = e.ID })
}

func exportAudit(ctx context.Context, a *audit.Store, emit func(any) error) error {
	if a == nil {
		return nil
	}
	f := audit.Filter{Limit: exportPage}
	return emitPages(emit, func() ([]audit.Entry, error) { return a.List(ctx, f) }, func(e audit.Entry) { f.Before = e.ID })
}
