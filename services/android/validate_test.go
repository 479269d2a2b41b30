package android

import (
	"strings"
	"testing"
)

// A package name longer than the API's schema allows was refused only by
// the API, not by the service the dashboard calls too.
func TestPolicySettingsRefuseLongPackageNames(t *testing.T) {
	name := "com." + strings.Repeat("a", 197)
	if err := (PolicySettings{Apps: []App{{PackageName: name, InstallType: "AVAILABLE"}}}).validate(); err == nil || !strings.Contains(err.Error(), "settings.apps") {
		t.Errorf("a 201-character package name: %v", err)
	}
	if err := (PolicySettings{Apps: []App{{PackageName: name[:200], InstallType: "AVAILABLE"}}}).validate(); err != nil {
		t.Errorf("a 200-character package name: %v", err)
	}
	apps := make([]App, 201)
	for i := range apps {
		apps[i] = App{PackageName: "com.example.a", InstallType: "AVAILABLE"}
	}
	if err := (PolicySettings{Apps: apps}).validate(); err == nil || !strings.Contains(err.Error(), "settings.apps") {
		t.Errorf("201 apps: %v", err)
	}
}
