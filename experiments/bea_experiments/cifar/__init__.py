"""Full-batch Adam on CIFAR-10/100 with ResNets: the validation of the one-norm implicit bias (torch)."""
