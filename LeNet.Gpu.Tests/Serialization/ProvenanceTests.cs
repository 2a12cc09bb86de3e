using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;
using Xunit;

namespace LeNet.Gpu.Tests.Serialization;

public class ProvenanceTests
{
    [Fact]
    public void ClassNames_FollowTheDatasetTheModelWasTrainedOn()
    {
        Assert.Equal(ClassNames.Fashion, Provenance.ClassNames(new Dictionary<string, string> { ["dataset"] = "fashion" }));
        Assert.Equal(ClassNames.Digits, Provenance.ClassNames(new Dictionary<string, string> { ["dataset"] = "mnist" }));
        // A --data folder's name, or no record at all: the digits.
        Assert.Equal(ClassNames.Digits, Provenance.ClassNames(new Dictionary<string, string> { ["dataset"] = "fashion-mnist" }));
        Assert.Equal(ClassNames.Digits, Provenance.ClassNames(new Dictionary<string, string>()));
    }

    [Fact]
    public void TrainedOn_NamesOnlyDatasetsTheCatalogKnows()
    {
        Assert.Equal("digits", Provenance.TrainedOn(new Dictionary<string, string> { ["dataset"] = "digits" }));
        Assert.Null(Provenance.TrainedOn(new Dictionary<string, string> { ["dataset"] = "my-folder" }));
        Assert.Null(Provenance.TrainedOn(new Dictionary<string, string> { ["seed"] = "1" }));
    }
}
