"""The reference code each kernel of the engine replaces, by the SHA-256 of its source.

Written by ``scripts/engine_digests.py``. A layer or optimizer hands off to a kernel only
while its method's source has the digest recorded here (:func:`layerwise.fast.switch.kernel`):
an edited method runs as edited, with the engine on or off.
"""

DIGESTS: dict[str, str] = {
    "layerwise.layers.convolution.Convolution.forward":
        "b63c032e834b6a20b271163f1a98d58bb92c21dfd199653df2a2f2c48c75bd40",
    "layerwise.layers.convolution.Convolution._backward":
        "3d203b070ad88f7461fba7dfc34da3cf103295776a248c83472d95fa53620de6",
    "layerwise.layers.pooling.Pooling.forward":
        "b42663a4695864d2a160902647e282143f7a12d6dfef2d9410a101dfd30553a8",
    "layerwise.layers.pooling.Pooling.backward":
        "36083c9e864b5ceb0c5ab0eb80afbc5a7e1f02a97f6c92a3b922ed746c283b50",
    "layerwise.layers.affine.Affine._backward":
        "8f4b0d691e1ef6ddf11dd7db476abae48e6cb730938fada31779de42667de720",
    "layerwise.layers.loss.SoftmaxWithLoss.forward":
        "b084f2589e8ab1235e84ede3ccf3d99e53a946ad3212db718f933dc35f0c2bd0",
    "layerwise.functions.softmax_cross_entropy_of":
        "2600e30fcb247742d7ad7507c800f9dd15a7f8592b1b06cb11b4788b1c4e9945",
    "layerwise.optimizers.SGD.update_one":
        "a5f5c90f930d2be96dfa7d6b49d0caac88019de82cff246f8d259d54264abd60",
    "layerwise.optimizers.Momentum.update_one":
        "20c4f8ecb45079f2bcec6fe846ef9565133063a34e1686699587daa64f2d6cf4",
    "layerwise.optimizers.Nesterov.update_one":
        "8723fe81d829b4ddf177faaf6cc167b0907a6cca1e97a2d3c2c26b033327e4a5",
    "layerwise.optimizers.AdaGrad.update_one":
        "e12835b520dba6a17323b776b991d409aa55d68fa81b124b817355f7423e67c3",
    "layerwise.optimizers.RMSprop.update_one":
        "6fdbf9d3f2d5a48d51698a6ef3253b59d2772e58eac6d7ebea9cfa169d9445f8",
    "layerwise.optimizers.Adam.update_one":
        "b3c41e119f2a9c171f0d3643a6913c5d72cb7fbe2cb3c2cb57b883c241d29a46",
}
