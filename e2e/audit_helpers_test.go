package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/testenv"
)

// refuseAudit makes the package's database refuse every audit entry of
// actor (a trigger, made as superuser, dropped when the test ends), so
// that no change actor makes can be audited: the tests that an entry
// commits with its change, or neither does, use it.
func refuseAudit(t *testing.T, actor string) {
	t.Helper()
	su := testenv.Superuser(t)
	ctx := context.Background()
	if _, err := su.Exec(ctx, `CREATE OR REPLACE FUNCTION trident_test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$`); err != nil {
		t.Fatal(err)
	}
	trigger := fmt.Sprintf("refuse_audit_%x", sha256.Sum256([]byte(actor)))[:40]
	literal := "'" + strings.ReplaceAll(actor, "'", "''") + "'"
	if _, err := su.Exec(ctx, `CREATE TRIGGER `+trigger+` BEFORE INSERT ON audit_log FOR EACH ROW
WHEN (NEW.actor = `+literal+`) EXECUTE FUNCTION trident_test_refuse_audit()`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = su.Exec(context.Background(), `DROP TRIGGER IF EXISTS `+trigger+` ON audit_log`) })
}
