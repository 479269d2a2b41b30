package migrations_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
)

// The directory: replicated to every Citus worker.
var referenceTables = []string{"msps", "tenant_hostnames", "tenants"}

// deploy/citus/distribute.sql distributes the schema Trident has now:
// Citus cannot be installed here, so this checks the script against the
// catalog instead of running it. Every tenant table is distributed on
// tenant_id once (a new table without its line fails here), parents come
// before the tables whose foreign keys point at them (Citus refuses the
// other order), and a distributed table's unique indexes all include
// tenant_id (Citus cannot enforce one that does not).
func TestCitusDistribution(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile("../deploy/citus/distribute.sql")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	var reference, distributed []string
	for _, m := range regexp.MustCompile(`(?m)^SELECT create_reference_table\('(\w+)'\);$`).FindAllStringSubmatch(script, -1) {
		reference = append(reference, m[1])
	}
	for _, m := range regexp.MustCompile(`(?m)^SELECT create_distributed_table\('(\w+)', 'tenant_id', colocate_with => '(\w+)'\);$`).FindAllStringSubmatch(script, -1) {
		distributed = append(distributed, m[1])
		if want := "devices"; len(distributed) > 1 && m[2] != want {
			t.Errorf("%s is co-located with %s, not %s", m[1], m[2], want)
		}
	}
	if len(distributed) == 0 || distributed[0] != "devices" {
		t.Fatalf("the script must distribute devices first, as the co-location group: %v", distributed)
	}
	sort.Strings(reference)
	if !slices.Equal(reference, referenceTables) {
		t.Errorf("reference tables %v; want %v", reference, referenceTables)
	}

	conn := testenv.Superuser(t)
	rows, _ := conn.Query(ctx, `
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
ORDER BY 1`)
	tenantTables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	position := map[string]int{}
	for i, name := range distributed {
		if _, twice := position[name]; twice {
			t.Errorf("%s is distributed twice", name)
		}
		position[name] = i
	}
	for _, name := range tenantTables {
		_, dist := position[name]
		if !dist && !slices.Contains(referenceTables, name) {
			t.Errorf("tenant table %s is missing from deploy/citus/distribute.sql", name)
		}
	}
	for _, name := range distributed {
		if !slices.Contains(tenantTables, name) {
			t.Errorf("deploy/citus/distribute.sql distributes %s, which is not a tenant table", name)
		}
	}

	rows, _ = conn.Query(ctx, `
SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint c
JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' AND c.contype = 'f' AND conrelid <> confrelid`)
	type fk struct{ child, parent string }
	fks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fk, error) {
		var f fk
		return f, r.Scan(&f.child, &f.parent)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fks {
		c, cd := position[f.child]
		p, pd := position[f.parent]
		if cd && pd && p > c {
			t.Errorf("%s is distributed before %s, which its foreign key references", f.child, f.parent)
		}
	}

	rows, _ = conn.Query(ctx, `
SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND i.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attname = 'tenant_id' AND a.attnum = ANY (i.indkey))`)
	type idx struct{ table, index string }
	unique, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (idx, error) {
		var x idx
		return x, r.Scan(&x.table, &x.index)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range unique {
		if _, dist := position[x.table]; dist {
			t.Errorf("%s: unique index %s does not include tenant_id; Citus cannot distribute the table", x.table, x.index)
		}
	}
}
