"""Visit photos: safe decoding, EXIF facts, stripping, watermarking, thumbnails."""
