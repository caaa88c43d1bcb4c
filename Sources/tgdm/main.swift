import Pipelines
print("tgdm")
