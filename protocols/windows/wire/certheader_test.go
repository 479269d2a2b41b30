package wire

import "testing"

// A proxy's certificate header never panics the parser.
func FuzzParseCertHeader(f *testing.F) {
	f.Add(":MIIBszCCAVmgAwIBAgIB:")
	f.Add("-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A")
	f.Add("::")
	f.Fuzz(func(t *testing.T, v string) {
		ParseCertHeader(v)
	})
}
