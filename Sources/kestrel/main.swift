print("kestrel")
