def handle(record):
    print("handled", record.body, flush=True)
