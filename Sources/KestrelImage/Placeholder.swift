// KestrelImage
