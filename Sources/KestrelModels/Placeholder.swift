// KestrelModels
