package idempotency_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/idempotency"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type answer struct{ ID uuid.UUID }

func TestDo(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := seal.NewRandomKey()
	keys := idempotency.New(db, seal.NewKeyring(k))
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	made := 0
	create := func(ctx context.Context) (*answer, error) {
		made++
		id := uuid.New()
		return &answer{ID: id}, db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO device_groups (id, name) VALUES ($1, $2)`, id, id.String())
			return err
		})
	}
	do := func(r idempotency.Request, create func(context.Context) (*answer, error)) (a *answer, replayed bool, err error) {
		err = db.Within(ctx, func(ctx context.Context) (err error) {
			a, replayed, err = idempotency.Do(ctx, keys, r, create)
			return err
		})
		return a, replayed, err
	}
	r := idempotency.Request{Caller: "c", Key: "k1", Operation: "create-group", Path: "/groups", Body: map[string]string{"name": "x"}}

	first, replayed, err := do(r, create)
	if err != nil || replayed || made != 1 {
		t.Fatalf("first: %v %v %v (made %d)", first, replayed, err, made)
	}
	again, replayed, err := do(r, create)
	if err != nil || !replayed || again.ID != first.ID || made != 1 {
		t.Fatalf("repeat: %v %v %v (made %d); want the first answer, nothing made", again, replayed, err, made)
	}
	other := r
	other.Body = map[string]string{"name": "y"}
	if _, _, err := do(other, create); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("the key with another request: %v, want ErrReused", err)
	}
	// Another caller's same key is its own.
	mine := r
	mine.Caller = "d"
	if _, replayed, err := do(mine, create); err != nil || replayed || made != 2 {
		t.Fatalf("another caller: %v %v (made %d)", replayed, err, made)
	}
	// A first attempt that fails keeps nothing: the key is free again.
	failing := idempotency.Request{Caller: "c", Key: "k2", Operation: "create-group", Path: "/groups"}
	boom := errors.New("boom")
	if _, _, err := do(failing, func(context.Context) (*answer, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing create: %v", err)
	}
	if _, replayed, err := do(failing, create); err != nil || replayed {
		t.Fatalf("the key after a failed first attempt: %v %v", replayed, err)
	}
}
