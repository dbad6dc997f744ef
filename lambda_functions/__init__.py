"""groves' workers: one module per Lambda function, each with a ``lambda_handler``.

The functions, their events and how runs use them are registered in
`lambda_functions.stages`.
"""
