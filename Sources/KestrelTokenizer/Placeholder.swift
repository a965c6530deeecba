// KestrelTokenizer
