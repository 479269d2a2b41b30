package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

const depUsage = `Usage:
  trident dep keypair --tenant SLUG --label LABEL [--out FILE]   make a token's key pair; upload FILE (the certificate) to ABM
  trident dep upload  --tenant SLUG --token ID FILE.p7m         store the server token downloaded from ABM, and queue a sync
  trident dep sync    --tenant SLUG --token ID                  sync the token's devices now, in this process
  trident dep account --tenant SLUG --token ID                  read the account details from Apple
  trident dep tokens  --tenant SLUG                             list the tenant's tokens and their status`

func runDEP(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("%s", depUsage)
	}
	action := args[0]
	var c common
	var base, tenant, token, label, out, key, depURL string
	fs := flag.NewFlagSet("dep "+action, flag.ContinueOnError)
	c.register(fs)
	fs.StringVar(&base, "base-domain", "", "the base domain (empty with the dev cluster: localhost)")
	fs.StringVar(&key, "encryption-key", "", "the server's encryption key (empty with the dev cluster: its own)")
	fs.StringVar(&depURL, "apple-dep-url", "https://mdmenrollment.apple.com/", "Apple's Device Assignment API")
	fs.StringVar(&tenant, "tenant", "", "the tenant's slug")
	wantArgs := 0
	switch action {
	case "keypair":
		fs.StringVar(&label, "label", "", "a name for the ABM MDM server")
		fs.StringVar(&out, "out", "", "write the certificate here (default: standard output)")
	case "upload":
		wantArgs = 1
		fs.StringVar(&token, "token", "", "the token's id")
	case "sync", "account":
		fs.StringVar(&token, "token", "", "the token's id")
	case "tokens":
	default:
		return usagef("unknown dep action %q\n%s", action, depUsage)
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	if fs.NArg() != wantArgs {
		return usagef("%s takes %d argument(s), got %d\n%s", action, wantArgs, fs.NArg(), depUsage)
	}
	tokenID, err := uuid.Parse(token)
	switch {
	case tenant == "":
		return usagef("%s needs --tenant\n%s", action, depUsage)
	case action == "keypair" && label == "":
		return usagef("keypair needs --label\n%s", depUsage)
	case (action == "upload" || action == "sync" || action == "account") && err != nil:
		return usagef("%s needs --token, the token's id\n%s", action, depUsage)
	}
	log, _ := c.logger(os.Stderr)
	dbs, err := c.connect(ctx, "", false, log)
	if err != nil {
		return err
	}
	defer dbs.release()
	if c.databaseURL == "" {
		if base == "" {
			base = "localhost"
		}
		if key == "" {
			if key, err = devEncryptionKey(c.dataDir); err != nil {
				return err
			}
		}
	}
	if base == "" {
		return usagef("--base-domain (TRIDENT_BASE_DOMAIN) is required")
	}
	sc := serverConfig{encryptionKey: key}
	keys, err := sc.keyring()
	if err != nil {
		return usageError{err}
	}
	db, err := tenancy.Open(ctx, dbs.app, dbs.reader)
	if err != nil {
		return err
	}
	defer db.Close()
	dir, err := tenancy.NewDirectory(db, base)
	if err != nil {
		return usageError{err}
	}
	t, err := dir.TenantBySlug(ctx, tenant)
	if err != nil {
		return err
	}
	ctx = tenancy.WithTenant(ctx, t.ID)
	// Jobs (a sync after an upload, webhook deliveries) are inserted for
	// the workers; this process works none.
	rc, err := insertOnlyJobs(db)
	if err != nil {
		return err
	}
	svc := dep.New(db, keys, events.NewPublisher(rc), rc, dep.Options{BaseURL: depURL, Log: log})

	return depAction(ctx, svc, t, action, tokenID, label, out, fs.Arg(0), stdout)
}

// depAction runs one dep subcommand for tenant t: keypair, upload (of
// file), sync, account, or tokens (the list).
func depAction(ctx context.Context, svc *dep.Service, t tenancy.Tenant, action string, tokenID uuid.UUID, label, out, file string, stdout io.Writer) error {
	var err error
	switch action {
	case "keypair":
		var tok dep.Token
		var cert []byte
		if tok, cert, err = svc.CreateToken(ctx, label); err != nil {
			return err
		}
		if out != "" {
			if err := os.WriteFile(out, cert, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "token %s: upload %s to Apple Business Manager for the MDM server, then\n  trident dep upload --tenant %s --token %s <downloaded .p7m>\n",
				tok.ID, out, t.Slug, tok.ID)
			return nil
		}
		fmt.Fprintf(os.Stderr, "token %s: upload this certificate to Apple Business Manager\n", tok.ID)
		_, err := stdout.Write(cert)
		return err
	case "upload":
		p7m, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var tok dep.Token
		if tok, err = svc.Upload(ctx, tokenID, p7m); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s is %s; a sync is queued\n", tok.ID, tok.Status)
		if tok, err = svc.AccountDetails(ctx, tokenID); err != nil {
			return fmt.Errorf("stored, but reading the account from Apple failed: %w", err)
		}
		fmt.Fprintf(stdout, "ABM server %q of %s\n", tok.Account.ServerName, tok.Account.OrgName)
		return nil
	case "sync":
		var tok dep.Token
		if tok, err = svc.Token(ctx, tokenID); err != nil {
			return err
		}
		if tok.Status == dep.AwaitingToken {
			return fmt.Errorf("token %s has no server token yet: trident dep upload --tenant %s --token %s FILE.p7m", tok.ID, t.Slug, tok.ID)
		}
		res, err := svc.Sync(ctx, tokenID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d pages: %d added, %d modified, %d removed, %d queued for profile assignment\n",
			res.Pages, res.Added, res.Modified, res.Removed, res.Assigning)
		if tok, err = svc.Token(ctx, tokenID); err != nil {
			return err
		}
		if tok.Status != dep.Active {
			fmt.Fprintf(stdout, "token status %s: %s\n", tok.Status, tok.StatusDetail)
		}
		return nil
	case "account":
		tok, err := svc.AccountDetails(ctx, tokenID)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(tok)
	}
	var toks []dep.Token
	if toks, err = svc.Tokens(ctx); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tSTATUS\tDEVICES\tEXPIRES\tSYNCED\tDETAIL")
	for _, tok := range toks {
		exp, synced := "-", "-"
		if tok.AccessTokenExpiry != nil {
			exp = tok.AccessTokenExpiry.Format("2006-01-02")
		}
		if tok.SyncedAt != nil {
			synced = tok.SyncedAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", tok.ID, tok.Label, tok.Status, tok.Devices, exp, synced, tok.StatusDetail+tok.SyncError)
	}
	return tw.Flush()
}
