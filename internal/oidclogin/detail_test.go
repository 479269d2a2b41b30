package oidclogin

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// A refused token exchange shows the endpoint's OAuth error code and
// nothing else of its answer: the endpoint is a tenant's to name, and its
// body could be any internal service's.
func TestExchangeDetailEchoesNoBody(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&oauth2.RetrieveError{Body: []byte(`{"error":"invalid_grant","error_description":"INTERNAL-ONLY-SECRET"}`),
			ErrorCode: "invalid_grant", ErrorDescription: "INTERNAL-ONLY-SECRET"}, "invalid_grant"},
		{&oauth2.RetrieveError{Body: []byte("INTERNAL-ONLY-SECRET")}, "no usable answer"},
		{&oauth2.RetrieveError{ErrorCode: "<script>INTERNAL-ONLY-SECRET"}, "no usable answer"},
		{fmt.Errorf("oauth2: cannot fetch token: %w", errors.New("INTERNAL-ONLY-SECRET")), "no usable answer"},
	} {
		got := exchangeDetail(c.err)
		if got != c.want || strings.Contains(got, "SECRET") {
			t.Errorf("%v: shown %q, want %q", c.err, got, c.want)
		}
	}
}
