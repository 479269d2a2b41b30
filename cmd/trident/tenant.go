package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

const tenantUsage = `Usage:
  trident tenant create --msp SLUG [--msp-name NAME] --slug SLUG --name NAME
  trident tenant list [--msp SLUG]
  trident tenant add-hostname --tenant SLUG HOSTNAME
  trident tenant verify-hostname --tenant SLUG [--dns-server HOST:PORT | --without-dns] HOSTNAME
  trident tenant remove-hostname --tenant SLUG HOSTNAME
  trident tenant suspend --tenant SLUG
  trident tenant activate --tenant SLUG`

func runTenant(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("%s", tenantUsage)
	}
	action := args[0]
	var c common
	var base, msp, mspName, slug, name, tenant, dnsServer string
	var withoutDNS bool
	fs := flag.NewFlagSet("tenant "+action, flag.ContinueOnError)
	c.register(fs)
	fs.StringVar(&base, "base-domain", "", "the base domain (empty with the dev cluster: localhost)")
	switch action {
	case "create":
		fs.StringVar(&msp, "msp", "", "slug of the MSP the tenant belongs to")
		fs.StringVar(&mspName, "msp-name", "", "create the MSP with this name if it does not exist")
		fs.StringVar(&slug, "slug", "", "the tenant's slug: its hostname is {slug}.{base-domain}")
		fs.StringVar(&name, "name", "", "the tenant's display name")
	case "list":
		fs.StringVar(&msp, "msp", "", "only this MSP's tenants")
	case "add-hostname", "verify-hostname", "remove-hostname", "suspend", "activate":
		fs.StringVar(&tenant, "tenant", "", "the tenant's slug")
		if action == "verify-hostname" {
			fs.StringVar(&dnsServer, "dns-server", "", "host:port of the DNS server to look the record up at; empty: the system's")
			fs.BoolVar(&withoutDNS, "without-dns", false, "mark the name verified on your word, without its DNS record (names you know are the tenant's, registered before ownership was checked)")
		}
	default:
		return usagef("unknown tenant action %q\n%s", action, tenantUsage)
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	wantArgs := 0
	if strings.HasSuffix(action, "-hostname") {
		wantArgs = 1
	}
	if fs.NArg() != wantArgs {
		return usagef("%s takes %d argument(s), got %d\n%s", action, wantArgs, fs.NArg(), tenantUsage)
	}
	switch {
	case action == "create" && (msp == "" || slug == "" || name == ""):
		return usagef("create needs --msp, --slug and --name\n%s", tenantUsage)
	case action != "create" && action != "list" && tenant == "":
		return usagef("%s needs --tenant\n%s", action, tenantUsage)
	}
	log, _ := c.logger(os.Stderr)
	dbs, err := c.connect(ctx, "", false, log)
	if err != nil {
		return err
	}
	defer dbs.release()
	if base == "" {
		if c.databaseURL != "" {
			return usagef("--base-domain (TRIDENT_BASE_DOMAIN) is required")
		}
		base = "localhost"
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

	if action == "list" {
		return tenantList(ctx, dir, msp, stdout)
	}
	// Changes publish their events and queue what they cause (a new
	// hostname's DNS check) for the workers, as the API's do; this
	// process works no jobs.
	rc, err := insertOnlyJobs(db)
	if err != nil {
		return err
	}
	svc := tenants.New(db, dir, newPublisher(rc))
	if action == "create" {
		return tenantCreate(ctx, dir, svc, msp, mspName, slug, name, c.databaseURL == "", stdout)
	}
	t, err := dir.TenantBySlug(ctx, tenant)
	if err != nil {
		return err
	}
	dir.UseDNS(tenancy.DNSResolver(dnsServer))
	return tenantChange(tenancy.WithTenant(ctx, t.ID), svc, t, action, fs.Arg(0), withoutDNS, stdout)
}

// tenantCreate creates a tenant, and its MSP when mspName is given.
func tenantCreate(ctx context.Context, dir *tenancy.Directory, svc *tenants.Service, msp, mspName, slug, name string, dev bool, stdout io.Writer) error {
	m, err := dir.MSPBySlug(ctx, msp)
	if errors.Is(err, tenancy.ErrNotFound) && mspName != "" {
		m, err = dir.CreateMSP(ctx, msp, mspName)
	} else if errors.Is(err, tenancy.ErrNotFound) {
		return fmt.Errorf("%w (give --msp-name to create it)", err)
	}
	if err != nil {
		return err
	}
	id := uuid.New()
	t, err := svc.Create(tenancy.WithTenant(ctx, id), id, m.ID, slug, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created tenant %s (%s) for MSP %s: %s\n", t.Slug, t.ID, m.Slug, tenantURL(t.Slug, dir.BaseDomain(), dev))
	return nil
}

// tenantURL is where a tenant's hostname answers: with the dev cluster,
// trident dev's plain HTTP on its default port; otherwise HTTPS.
func tenantURL(slug, base string, dev bool) string {
	if dev {
		_, port, _ := net.SplitHostPort(devListen)
		return "http://" + slug + "." + base + ":" + port + "/"
	}
	return "https://" + slug + "." + base + "/"
}

// tenantList prints the tenants (of msp, or all) with their hostnames.
func tenantList(ctx context.Context, dir *tenancy.Directory, msp string, stdout io.Writer) error {
	mspID := uuid.Nil
	if msp != "" {
		m, err := dir.MSPBySlug(ctx, msp)
		if err != nil {
			return err
		}
		mspID = m.ID
	}
	ts, err := dir.ListTenants(ctx, mspID)
	if err != nil {
		return err
	}
	msps, err := dir.ListMSPs(ctx)
	if err != nil {
		return err
	}
	mspSlug := map[uuid.UUID]string{}
	for _, m := range msps {
		mspSlug[m.ID] = m.Slug
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tNAME\tMSP\tSTATUS\tHOSTNAMES\tID")
	for _, t := range ts {
		hosts, err := dir.Hostnames(ctx, t)
		if err != nil {
			return err
		}
		var names []string
		for _, h := range hosts {
			n := h.Name
			if !h.Verified() {
				n += " (pending)"
			}
			names = append(names, n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Slug, t.Name, mspSlug[t.MSPID], t.Status, strings.Join(names, ","), t.ID)
	}
	return tw.Flush()
}

// tenantChange runs a change to tenant t (ctx is scoped to it): a
// hostname added, verified or removed (arg), or the tenant suspended or
// activated.
func tenantChange(ctx context.Context, svc *tenants.Service, t tenancy.Tenant, action, arg string, withoutDNS bool, stdout io.Writer) error {
	switch action {
	case "add-hostname":
		h, err := svc.AddHostname(ctx, arg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is registered to tenant %s, pending: publish this DNS record, then run verify-hostname\n  %s TXT %q\n",
			h.Name, t.Slug, h.RecordName(), h.RecordValue())
	case "verify-hostname":
		verify := func() (tenancy.Hostname, error) { return svc.VerifyHostname(ctx, arg, nil) }
		if withoutDNS {
			verify = func() (tenancy.Hostname, error) { return svc.VouchHostname(ctx, arg) }
		}
		h, err := verify()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is verified and serves tenant %s\n", h.Name, t.Slug)
	case "remove-hostname":
		if err := svc.RemoveHostname(ctx, arg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s from tenant %s\n", arg, t.Slug)
	case "suspend", "activate":
		st := tenancy.Suspended
		if action == "activate" {
			st = tenancy.Active
		}
		if _, err := svc.Update(ctx, tenancy.TenantUpdate{Status: &st}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "tenant %s is %s\n", t.Slug, st)
	}
	return nil
}
