"""groves: tasks."""
