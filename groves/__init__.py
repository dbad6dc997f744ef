"""groves: distributed random-forest forecasting of many time series, on Prefect."""
