using Platform.Ingestion.Units;

namespace Platform.Grains.Ingestion;

/// <summary>The ingestion contracts' plain records as the ingestion library's types (the contracts reference no library).</summary>
public static class IngestContractMappings
{
    extension(UnitAssignment assignment)
    {
        public InputUnit InputUnit => new(assignment.Input, assignment.Start, assignment.End);
    }
}
