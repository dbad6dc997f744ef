"""groves: lambda_functions."""
