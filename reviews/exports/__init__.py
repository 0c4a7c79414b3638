"""Release files: the rows of each export kind (`records`, plain Python) and the JSON Lines and Parquet
writer (`writer`, pyarrow). `reviews.services.releases` reads the database and drives them."""
