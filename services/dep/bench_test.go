package dep_test

import (
	"fmt"
	"testing"

	"github.com/tridentmdm/trident/internal/fakedep"
)

// BenchmarkFullSync measures a token's first sync of 2,000 devices from
// the local DEP server in pages of 500, each page upserted with its cursor
// in one transaction (the DEP server's own time included). ns/op is per
// sync; devices/s is reported.
func BenchmarkFullSync(b *testing.B) {
	f := setup(b)
	const devices = 2000
	total := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tn := f.newTenant(fmt.Sprintf("Bench%d", i), serials(devices, fmt.Sprintf("B%d-", i))...)
		f.apple.Update(tn.account, func(a *fakedep.Account) { a.PageSize = 500 })
		tn.upload()
		b.StartTimer()
		total += tn.sync().Added
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "devices/s")
}
