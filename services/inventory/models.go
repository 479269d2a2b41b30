package inventory

// appleModels are the names people know Apple's devices by, from the
// model identifiers the devices report (ProductName: iPhone15,2), as
// Apple's support articles "Identify your iPhone model" (and iPad, Mac)
// list them. Maintained here by hand: a model missing from it shows its
// identifier.
var appleModels = map[string]string{
	"iPhone10,1": "iPhone 8", "iPhone10,4": "iPhone 8", "iPhone10,2": "iPhone 8 Plus", "iPhone10,5": "iPhone 8 Plus",
	"iPhone10,3": "iPhone X", "iPhone10,6": "iPhone X",
	"iPhone11,2": "iPhone XS", "iPhone11,4": "iPhone XS Max", "iPhone11,6": "iPhone XS Max", "iPhone11,8": "iPhone XR",
	"iPhone12,1": "iPhone 11", "iPhone12,3": "iPhone 11 Pro", "iPhone12,5": "iPhone 11 Pro Max", "iPhone12,8": "iPhone SE (2nd generation)",
	"iPhone13,1": "iPhone 12 mini", "iPhone13,2": "iPhone 12", "iPhone13,3": "iPhone 12 Pro", "iPhone13,4": "iPhone 12 Pro Max",
	"iPhone14,4": "iPhone 13 mini", "iPhone14,5": "iPhone 13", "iPhone14,2": "iPhone 13 Pro", "iPhone14,3": "iPhone 13 Pro Max",
	"iPhone14,6": "iPhone SE (3rd generation)", "iPhone14,7": "iPhone 14", "iPhone14,8": "iPhone 14 Plus",
	"iPhone15,2": "iPhone 14 Pro", "iPhone15,3": "iPhone 14 Pro Max", "iPhone15,4": "iPhone 15", "iPhone15,5": "iPhone 15 Plus",
	"iPhone16,1": "iPhone 15 Pro", "iPhone16,2": "iPhone 15 Pro Max",
	"iPhone17,1": "iPhone 16 Pro", "iPhone17,2": "iPhone 16 Pro Max", "iPhone17,3": "iPhone 16", "iPhone17,4": "iPhone 16 Plus",
	"iPhone17,5": "iPhone 16e",

	"iPad12,1": "iPad (9th generation)", "iPad12,2": "iPad (9th generation)",
	"iPad13,18": "iPad (10th generation)", "iPad13,19": "iPad (10th generation)",
	"iPad14,1": "iPad mini (6th generation)", "iPad14,2": "iPad mini (6th generation)",
	"iPad13,16": "iPad Air (5th generation)", "iPad13,17": "iPad Air (5th generation)",
	"iPad14,8": "iPad Air 11-inch (M2)", "iPad14,9": "iPad Air 11-inch (M2)", "iPad14,10": "iPad Air 13-inch (M2)", "iPad14,11": "iPad Air 13-inch (M2)",
	"iPad16,3": "iPad Pro 11-inch (M4)", "iPad16,4": "iPad Pro 11-inch (M4)", "iPad16,5": "iPad Pro 13-inch (M4)", "iPad16,6": "iPad Pro 13-inch (M4)",

	"MacBookAir10,1": "MacBook Air (M1, 2020)", "MacBookPro17,1": "MacBook Pro (13-inch, M1, 2020)", "Macmini9,1": "Mac mini (M1, 2020)",
	"iMac21,1": "iMac (24-inch, M1, 2021)", "iMac21,2": "iMac (24-inch, M1, 2021)",
	"MacBookPro18,1": "MacBook Pro (16-inch, 2021)", "MacBookPro18,2": "MacBook Pro (16-inch, 2021)",
	"MacBookPro18,3": "MacBook Pro (14-inch, 2021)", "MacBookPro18,4": "MacBook Pro (14-inch, 2021)",
	"Mac13,1": "Mac Studio (2022)", "Mac13,2": "Mac Studio (2022)",
	"Mac14,2": "MacBook Air (M2, 2022)", "Mac14,7": "MacBook Pro (13-inch, M2, 2022)", "Mac14,15": "MacBook Air (15-inch, M2, 2023)",
	"Mac14,3": "Mac mini (2023)", "Mac14,12": "Mac mini (2023)",
	"Mac14,5": "MacBook Pro (14-inch, 2023)", "Mac14,9": "MacBook Pro (14-inch, 2023)", "Mac14,6": "MacBook Pro (16-inch, 2023)", "Mac14,10": "MacBook Pro (16-inch, 2023)",
	"Mac15,4": "iMac (24-inch, 2023)", "Mac15,5": "iMac (24-inch, 2023)",
	"Mac15,12": "MacBook Air (13-inch, M3, 2024)", "Mac15,13": "MacBook Air (15-inch, M3, 2024)",
}

// ModelName is the name people know model (a model identifier) by, or
// model itself when it is not one Trident knows (Windows and Android
// devices report names already).
func ModelName(model string) string {
	if n, ok := appleModels[model]; ok {
		return n
	}
	return model
}
