"""L2 weight decay, eq. (41): the gradient of a Gaussian prior N(0, I) on the parameters."""


def add_weight_decay(theta, g, weight_decay):
    """The gradient with L2 weight decay added, g + lambda theta, eq. (41).

    Parameters
    ----------
    theta : ndarray, any shape
        The parameters theta_{t-1} before this step; not changed.
    g : ndarray, same shape as theta
        The gradient of the loss; not changed.
    weight_decay : float
        lambda >= 0.

    Returns
    -------
    ndarray, same shape as theta
        A new array, g + lambda theta.

    Notes
    -----
    Weight decay is the gradient of a Gaussian prior on the parameters. The AEVB paper
    (Kingma & Welling, 2014) adds "a small weight decay term corresponding to a prior
    p(theta) = N(0, I)". Our loss is a per-example mean over a training set of N examples,
    L(theta) = (1/N) sum_i L_i(theta) (a minibatch mean is its unbiased estimate). MAP
    estimation minimizes sum_i L_i(theta) - log p(theta); with p = N(0, I) and dividing by N:

    .. math:: \\frac{1}{N} \\sum_i L_i(\\theta) + \\frac{\\lVert\\theta\\rVert^2}{2N},
        \\qquad \\nabla_\\theta \\frac{\\lVert\\theta\\rVert^2}{2N} = \\frac{\\theta}{N}.

    So ``weight_decay = 1/N`` (N the size of the training set, not of the batch: 1/60000
    for MNIST) is exactly that prior; any other lambda is the prior N(0, I / (lambda N)).
    The paper's prior is on the decoder's theta only; on the flat vector of all parameters
    the decay also reaches the encoder's phi, where it is plain regularization.
    """
    # BEGIN SOLUTION
    return g + weight_decay * theta                # eq. (41): g_t + lambda theta_{t-1}
    # END SOLUTION
