#!/bin/sh
# use-vfio.sh stock|noiommu: unload vfio and make modprobe pick Debian's stock vfio modules or the ones
# rebuilt with CONFIG_VFIO_NOIOMMU (the bundle keeps a module table for each).
set -e
dir="/lib/modules/$(uname -r)"
[ -d "$dir/variants/$1" ] || { echo "use-vfio.sh: no module table '$1' (stock, noiommu)" >&2; exit 2; }
for module in vfio_pci vfio_pci_core vfio_iommu_type1 vfio_virqfd vfio; do
  if [ -d "/sys/module/$module" ]; then rmmod "$module"; fi
done
cp "$dir/variants/$1"/modules.* "$dir/"
