// KestrelIndex
