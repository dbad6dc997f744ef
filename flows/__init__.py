"""groves: flows."""
