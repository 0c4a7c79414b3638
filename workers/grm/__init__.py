"""The GRM method as pure functions: no Django import anywhere in this package."""
