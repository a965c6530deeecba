// KestrelStore
