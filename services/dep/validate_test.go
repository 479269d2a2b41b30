package dep

import (
	"strings"
	"testing"
)

// The lengths Apple's Profile object allows were checked only by the
// API's schema, so the dashboard (and any other caller) could save an ADE
// profile that Apple's define call would refuse later, in a job.
func TestProfileSettingsRefuseWhatAppleWould(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for field, s := range map[string]ProfileSettings{
		"settings.department":            {Department: long(126)},
		"settings.support_phone_number":  {SupportPhoneNumber: long(51)},
		"settings.support_email_address": {SupportEmailAddress: long(240) + "@example.com"},
		"settings.language":              {Language: long(36)},
		"settings.region":                {Region: long(11)},
	} {
		if err := s.validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s too long: %v", field, err)
		}
	}
	ok := ProfileSettings{Department: long(125), SupportPhoneNumber: long(50), SupportEmailAddress: "it@example.com", Language: long(35), Region: long(10)}
	if err := ok.validate(); err != nil {
		t.Errorf("the longest allowed: %v", err)
	}
}
