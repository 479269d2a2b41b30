package tenancy_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// Each tenant sees only its own rows: a transaction is scoped to the
// tenant in its context, and row-level security does the rest. Without a
// tenant there is no transaction at all.
func Example() {
	ctx := context.Background()
	db, err := tenancy.Open(ctx, testenv.AppURL(), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	dir, err := tenancy.NewDirectory(db, "trident.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	suffix := uuid.NewString()[:8]
	msp, _ := dir.CreateMSP(ctx, "example-"+suffix, "Example IT")
	acme, _ := dir.CreateTenant(ctx, msp.ID, "acme-"+suffix, "Acme")
	beta, _ := dir.CreateTenant(ctx, msp.ID, "beta-"+suffix, "Beta")

	for _, name := range []string{"Laptops", "Phones"} {
		err := db.Tx(tenancy.WithTenant(ctx, acme.ID), func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO device_groups (id, name) VALUES (gen_random_uuid(), $1)`, name)
			return err
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, t := range []tenancy.Tenant{acme, beta} {
		n, err := tenancy.Read(tenancy.WithTenant(ctx, t.ID), db, func(tx pgx.Tx) (n int, err error) {
			return n, tx.QueryRow(ctx, `SELECT count(*) FROM device_groups`).Scan(&n)
		})
		fmt.Println(t.Name, "sees", n, "groups", err)
	}
	err = db.Tx(ctx, func(pgx.Tx) error { return nil })
	fmt.Println("without a tenant:", errors.Is(err, tenancy.ErrNoTenant))
	// Output:
	// Acme sees 2 groups <nil>
	// Beta sees 0 groups <nil>
	// without a tenant: true
}

// Within makes several use cases one transaction: every Tx under its
// context joins it, and a failure anywhere rolls all of it back.
func ExampleDB_Within() {
	ctx := context.Background()
	db, err := tenancy.Open(ctx, testenv.AppURL(), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	dir, _ := tenancy.NewDirectory(db, "trident.example")
	suffix := uuid.NewString()[:8]
	msp, _ := dir.CreateMSP(ctx, "within-"+suffix, "Example IT")
	t, _ := dir.CreateTenant(ctx, msp.ID, "acme-"+suffix, "Acme")
	ctx = tenancy.WithTenant(ctx, t.ID)

	addGroup := func(ctx context.Context, name string) error { // a service's use case
		return db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO device_groups (id, name) VALUES (gen_random_uuid(), $1)`, name)
			return err
		})
	}
	err = db.Within(ctx, func(ctx context.Context) error {
		if err := addGroup(ctx, "Kiosks"); err != nil {
			return err
		}
		return errors.New("the audit entry could not be written")
	})
	fmt.Println(err)
	n, _ := tenancy.Read(ctx, db, func(tx pgx.Tx) (n int, err error) {
		return n, tx.QueryRow(ctx, `SELECT count(*) FROM device_groups WHERE name = 'Kiosks'`).Scan(&n)
	})
	fmt.Println("Kiosks kept:", n)
	// Output:
	// the audit entry could not be written
	// Kiosks kept: 0
}
