package api

import (
	"reflect"
	"slices"
	"testing"

	"github.com/tridentmdm/trident/services/commands"
)

// Every command kind people may send is in the API's enum, and only
// those: the queue-command and bulk bodies take a CommandKind, whose
// schema is the command service's list.
func TestCommandKindsInTheAPI(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeOf(queueCommandInput{}), reflect.TypeOf(bulkInput{})} {
		f, ok := typ.FieldByName("Body")
		if !ok {
			t.Fatalf("%s has no Body", typ)
		}
		k, ok := f.Type.FieldByName("Kind")
		if !ok || k.Type != reflect.TypeOf(CommandKind("")) || k.Tag.Get("enum") != "" {
			t.Errorf("%s.Body.Kind is %v with enum %q; want a CommandKind, its enum derived", typ, k.Type, k.Tag.Get("enum"))
		}
	}
	offered := CommandKind("").Schema(nil).Enum
	for _, kind := range commands.Kinds() {
		if in := slices.Contains(offered, any(kind.Name)); in == kind.Internal {
			t.Errorf("kind %s (internal: %v) offered: %v", kind.Name, kind.Internal, in)
		}
	}
	if !slices.Contains(offered, any("erase")) || slices.Contains(offered, any("device_configured")) {
		t.Errorf("offered kinds %v", offered)
	}
}
