package apple

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/nanomdm/service"
)

// DDM answers Declarative Device Management check-ins (Apple's
// "Declarative Management" protocol over MDM): the sync tokens, the
// declaration items the device should hold, the declarations themselves,
// and its status reports. Trident manages no declarations yet, so the set
// is empty; its token is a digest of the set, so devices resynchronize
// exactly when it changes.
type DDM struct {
	// status receives each status report (for the inventory); nil drops them.
	status func(r *mdm.Request, report json.RawMessage)
}

// declarations is what a device should hold, by kind.
type declarations struct {
	Activations    []declarationItem `json:"Activations"`
	Configurations []declarationItem `json:"Configurations"`
	Assets         []declarationItem `json:"Assets"`
	Management     []declarationItem `json:"Management"`
}

type declarationItem struct {
	Identifier  string `json:"Identifier"`
	ServerToken string `json:"ServerToken"`
}

func (d DDM) set(*mdm.Request) declarations {
	return declarations{Activations: []declarationItem{}, Configurations: []declarationItem{},
		Assets: []declarationItem{}, Management: []declarationItem{}}
}

func token(set declarations) string {
	b, _ := json.Marshal(set)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// maxStatusReport bounds what a status report may hold.
const maxStatusReport = 1 << 20

// DeclarativeManagement implements nanomdm's service.DeclarativeManagement.
func (d DDM) DeclarativeManagement(r *mdm.Request, m *mdm.DeclarativeManagement) ([]byte, error) {
	set := d.set(r)
	switch {
	case m.Endpoint == "tokens":
		return json.Marshal(map[string]any{"SyncTokens": map[string]any{
			"DeclarationsToken": token(set),
			// A fixed time: the token, not the clock, says whether anything changed.
			"Timestamp": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339),
		}})
	case m.Endpoint == "declaration-items":
		return json.Marshal(map[string]any{"Declarations": set, "DeclarationsToken": token(set)})
	case m.Endpoint == "status":
		if len(m.Data) > maxStatusReport || !json.Valid(m.Data) {
			return nil, service.NewHTTPStatusError(http.StatusBadRequest, fmt.Errorf("apple: a DDM status report must be JSON of at most 1 MiB"))
		}
		if d.status != nil {
			d.status(r, m.Data)
		}
		return nil, nil
	case strings.HasPrefix(m.Endpoint, "declaration/"):
		return nil, service.NewHTTPStatusError(http.StatusNotFound,
			fmt.Errorf("apple: no declaration %q", cut(strings.TrimPrefix(m.Endpoint, "declaration/"), 128)))
	}
	return nil, service.NewHTTPStatusError(http.StatusBadRequest, fmt.Errorf("apple: unknown declarative management endpoint %q", cut(m.Endpoint, 128)))
}
