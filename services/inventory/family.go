package inventory

import "strings"

// Family is a device's kind as rules and people tell them apart: Apple's
// devices run different systems (an iPhone has no firewall; "17.4" means
// different things on a Mac and an iPad), so Apple is four families.
type Family string

const (
	MacOS         Family = "macos"
	IOS           Family = "ios"
	IPadOS        Family = "ipados"
	TVOS          Family = "tvos"
	WindowsFamily Family = "windows"
	AndroidFamily Family = "android"
)

// Families are the device families, Apple's first.
var Families = []Family{MacOS, IOS, IPadOS, TVOS, WindowsFamily, AndroidFamily}

// Valid reports whether f is one of Families.
func (f Family) Valid() bool {
	for _, x := range Families {
		if f == x {
			return true
		}
	}
	return false
}

// Platform is the platform whose devices f is a family of.
func (f Family) Platform() Platform {
	switch f {
	case WindowsFamily:
		return Windows
	case AndroidFamily:
		return Android
	case "":
		return ""
	}
	return Apple
}

// appleFamilies map Apple's model identifiers (ProductName, such as
// iPhone15,2 or MacBookPro18,3) to families, by prefix.
var appleFamilies = []struct {
	prefix string
	family Family
}{
	{"iPhone", IOS}, {"iPod", IOS}, {"iPad", IPadOS}, {"AppleTV", TVOS},
	{"Mac", MacOS}, {"iMac", MacOS}, {"VirtualMac", MacOS},
}

// Family is the device's family; "" for an Apple device whose model is
// not reported yet (or not known).
func (d Device) Family() Family {
	switch d.Platform {
	case Windows:
		return WindowsFamily
	case Android:
		return AndroidFamily
	case Apple:
		for _, f := range appleFamilies {
			if strings.HasPrefix(d.Model, f.prefix) {
				return f.family
			}
		}
	}
	return ""
}
