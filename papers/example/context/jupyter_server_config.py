# The paper's environment is the kernel a new notebook gets (labhub export prepare).
c.MappingKernelManager.default_kernel_name = "paper"
