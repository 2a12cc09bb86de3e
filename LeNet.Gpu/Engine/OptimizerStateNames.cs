namespace LeNet.Gpu.Engine;

/// <summary>
/// The optimizer state a checkpoint carries, named for what it holds: SGD's velocity, Adam's first and second
/// moments; SDLM none, since it re-estimates its Hessian before every pass. Each engine keeps each of these in a
/// buffer of the parameters' length named the same. Checkpoints written before these names called the first and
/// second buffers <c>optimizer.a</c> and <c>optimizer.b</c>; <see cref="Current"/> reads them.
/// </summary>
internal static class OptimizerStateNames
{
    public const string Velocity = "optimizer.velocity", FirstMoment = "optimizer.first_moment", SecondMoment = "optimizer.second_moment";

    // The names of checkpoints written before the state was named for what it holds: the first and second slot.
    private const string OldFirstSlot = "optimizer.a", OldSecondSlot = "optimizer.b";

    public static string[] For(OptimizerKind optimizer) => optimizer switch
    {
        OptimizerKind.Sgd => [Velocity],
        OptimizerKind.Adam => [FirstMoment, SecondMoment],
        _ => [],
    };

    /// <summary>Today's name for a state tensor of <paramref name="optimizer"/> a checkpoint stores as <paramref name="name"/>.</summary>
    public static string Current(string name, OptimizerKind optimizer) => name switch
    {
        OldFirstSlot => optimizer == OptimizerKind.Adam ? FirstMoment : Velocity,
        OldSecondSlot => SecondMoment,
        _ => name,
    };
}
