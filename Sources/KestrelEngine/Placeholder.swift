// KestrelEngine
