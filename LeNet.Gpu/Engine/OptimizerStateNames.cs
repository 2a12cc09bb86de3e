namespace LeNet.Gpu.Engine;

/// <summary>
/// The optimizer state a checkpoint carries: SGD's velocity (<c>optimizer.a</c>), Adam's first and second moments
/// (<c>optimizer.a</c>, <c>optimizer.b</c>); SDLM none, since it re-estimates its Hessian before every pass.
/// </summary>
internal static class OptimizerStateNames
{
    public const string A = "optimizer.a", B = "optimizer.b";

    public static string[] For(OptimizerKind optimizer) => optimizer switch
    {
        OptimizerKind.Sgd => [A],
        OptimizerKind.Adam => [A, B],
        _ => [],
    };
}
