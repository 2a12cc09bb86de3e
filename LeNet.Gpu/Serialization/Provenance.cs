using LeNet.Gpu.Data;

namespace LeNet.Gpu.Serialization;

/// <summary>
/// The metadata a trained model carries about how it was made (its provenance), and what is read back from it:
/// the dataset it was trained on and so the names of its classes. Every command reads them here.
/// </summary>
public static class Provenance
{
    /// <summary>The dataset a model was trained on: a name from <see cref="DataCatalog.Names"/>, or a <c>--data</c> folder's name.</summary>
    public const string Dataset = "dataset";

    /// <summary>The named dataset <paramref name="metadata"/> says the model was trained on; null when it names none this library knows.</summary>
    public static string? TrainedOn(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(Dataset, out var name) && DataCatalog.Names.Contains(name) ? name : null;

    /// <summary>The model's class names, index = class: Fashion-MNIST's for a model trained on it, else the digits.</summary>
    public static IReadOnlyList<string> ClassNames(IReadOnlyDictionary<string, string> metadata) =>
        TrainedOn(metadata) == DataCatalog.Fashion ? Data.ClassNames.Fashion : Data.ClassNames.Digits;
}
