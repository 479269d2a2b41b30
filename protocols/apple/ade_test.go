package apple

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/tridentmdm/trident/internal/devicesim"
)

func TestParseMachineInfo(t *testing.T) {
	raw, err := devicesim.MachineInfo("C02ABC123", "00008110-000A11E01E68801E")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseMachineInfo(raw, nil)
	if err != nil || info.Serial != "C02ABC123" || info.UDID != "00008110-000A11E01E68801E" || info.Product != "iPhone15,2" {
		t.Fatalf("%+v %v", info, err)
	}
	// A tampered body no longer verifies.
	bad := bytes.Replace(raw, []byte("C02ABC123"), []byte("C02ABC999"), 1)
	if bytes.Equal(bad, raw) {
		t.Fatal("the serial is not in the signed body")
	}
	for _, b := range [][]byte{bad, []byte("plain"), nil} {
		if _, err := ParseMachineInfo(b, nil); !errors.Is(err, ErrMachineInfo) {
			t.Errorf("%q: %v", b[:min(len(b), 10)], err)
		}
	}
	// Signed, but not by a device the roots vouch for.
	if _, err := ParseMachineInfo(raw, x509Pool()); !errors.Is(err, ErrMachineInfo) {
		t.Errorf("unchained signer accepted: %v", err)
	}
	// A bad serial in a good signature.
	odd, _ := devicesim.MachineInfo("../etc", "00008110-000A11E01E68801E")
	if _, err := ParseMachineInfo(odd, nil); !errors.Is(err, ErrMachineInfo) {
		t.Errorf("bad serial accepted: %v", err)
	}
}

func FuzzParseMachineInfo(f *testing.F) {
	raw, err := devicesim.MachineInfo("C02ABC123", "00008110-000A11E01E68801E")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte("0\x82"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseMachineInfo(b, nil)
		if err == nil && (info.Serial == "" || info.UDID == "") {
			t.Fatalf("accepted without identifiers: %+v", info)
		}
	})
}

func x509Pool() *x509.CertPool { return x509.NewCertPool() }
