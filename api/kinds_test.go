package api

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/services/commands"
)

// Every command kind people may send is in the API's enum, and only
// those: a kind added to services/commands must be offered here.
func TestCommandKindsInTheAPI(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeOf(queueCommandInput{}), reflect.TypeOf(bulkInput{})} {
		f, ok := typ.FieldByName("Body")
		if !ok {
			t.Fatalf("%s has no Body", typ)
		}
		k, ok := f.Type.FieldByName("Kind")
		if !ok {
			t.Fatalf("%s has no Body.Kind", typ)
		}
		offered := strings.Split(k.Tag.Get("enum"), ",")
		var want []string
		for _, kind := range commands.Kinds() {
			if kind.Name != "device_configured" { // Trident's own, after ADE setup
				want = append(want, kind.Name)
			}
		}
		sort.Strings(offered)
		if !slices.Equal(offered, want) {
			t.Errorf("%s offers %v; the kinds are %v", typ, offered, want)
		}
	}
}
