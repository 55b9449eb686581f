//! ARINC 653 XML import, attribute by attribute: every attribute of the Part 1 schema is
//! imported (a TOML line shows it), noted (a note quotes it) or refused (an error names it),
//! as the table in `src/import/mod.rs` says; and the import's messages name what they are
//! about: other hypervisors' formats, the module schedule a partition is missing from, the XML
//! element behind a TOML line that breaks a pkernel rule, encodings, bounded echoes, no Rust
//! type names, singular and plural.
//!
//! Fixtures are in `tests/import_attributes/`; the table-driven cases edit [`BASE`].

use std::path::{Path, PathBuf};

use schedule_gen::Rule;
use schedule_gen::import::{ImportOptions, Imported, import_bytes, import_file, import_str};

/// A module that uses every attribute it needs and none it does not, so each case below adds
/// or changes one. Partition identifiers are 0 and 1 (pkernel's numbers), so the base has no
/// note about them.
const BASE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ARINC_653_Module ModuleName="attrs">
  <System_HM_Table>
    <System_State_Entry SystemState="1" Description="Partition execution">
      <Error_ID_Level ErrorIdentifier="1" ErrorLevel="PARTITION" ErrorCode="DEADLINE_MISSED"/>
      <Error_ID_Level ErrorIdentifier="2" ErrorLevel="MODULE" ErrorCode="POWER_FAILURE"/>
    </System_State_Entry>
  </System_HM_Table>
  <Module_HM_Table>
    <System_State_Entry SystemState="1">
      <Error_ID_Action ErrorIdentifier="2" Action="SHUTDOWN"/>
    </System_State_Entry>
  </Module_HM_Table>
  <Partition PartitionIdentifier="0" PartitionName="a" Criticality="LEVEL_A" SystemPartition="false">
    <Sampling_Port Name="s_out" MaxMessageSize="64" Direction="SOURCE"/>
    <Queuing_Port Name="q_in" MaxMessageSize="32" Direction="DESTINATION" MaxNbMessages="4"/>
  </Partition>
  <Partition PartitionIdentifier="1" PartitionName="b" Criticality="LEVEL_B">
    <Sampling_Port Name="s_in" MaxMessageSize="64" Direction="DESTINATION" RefreshRateSeconds="0.04"/>
    <Queuing_Port Name="q_out" MaxMessageSize="32" Direction="SOURCE" MaxNbMessages="4"/>
  </Partition>
  <Partition_Memory PartitionIdentifier="0" PartitionName="a">
    <Memory_Requirements RegionName="code" Type="CODE" SizeBytes="0x10000" Access="READ_EXECUTE"/>
  </Partition_Memory>
  <Partition_Memory PartitionIdentifier="1">
    <Memory_Requirements Type="CODE" SizeBytes="0x20000" Access="READ_ONLY"/>
  </Partition_Memory>
  <Module_Schedule MajorFrameSeconds="0.02">
    <Partition_Schedule PartitionIdentifier="0" PartitionName="a" PeriodSeconds="0.02" PeriodDurationSeconds="0.005">
      <Window_Schedule WindowStartSeconds="0" WindowDurationSeconds="0.005"/>
    </Partition_Schedule>
    <Partition_Schedule PartitionIdentifier="1" PeriodSeconds="0.02" PeriodDurationSeconds="0.01">
      <Window_Schedule WindowStartSeconds="0.01" WindowDurationSeconds="0.01"/>
    </Partition_Schedule>
  </Module_Schedule>
  <Partition_HM_Table PartitionIdentifier="1" PartitionName="b">
    <System_State_Entry SystemState="1">
      <Error_ID_Action ErrorIdentifier="1" Action="COLD_START"/>
    </System_State_Entry>
  </Partition_HM_Table>
  <Connection_Table>
    <Channel ChannelName="speed">
      <Source><Standard_Partition PartitionIdentifier="0" PortName="s_out"/></Source>
      <Destination><Standard_Partition PartitionIdentifier="1" PortName="s_in"/></Destination>
    </Channel>
    <Channel ChannelName="cmd">
      <Source><Standard_Partition PartitionIdentifier="1" PortName="q_out"/></Source>
      <Destination><Standard_Partition PartitionIdentifier="0" PortName="q_in"/></Destination>
    </Channel>
  </Connection_Table>
</ARINC_653_Module>
"#;

/// What becomes of an attribute.
#[derive(Clone, Copy, Debug)]
enum Fate {
    /// Imported: the configuration contains this text.
    Toml(&'static str),
    /// Noted: a note contains this text (and the import succeeds).
    Note(&'static str),
    /// Refused (with this value): an error of this rule contains this text.
    Refused(Rule, &'static str),
}

/// One attribute's case: the element and attribute, the edits of [`BASE`] that give it (or
/// change its value; each `from` must occur in the text), and its fate.
struct Case {
    element: &'static str,
    attribute: &'static str,
    edits: &'static [(&'static str, &'static str)],
    fate: Fate,
}

const fn case(
    element: &'static str,
    attribute: &'static str,
    edits: &'static [(&'static str, &'static str)],
    fate: Fate,
) -> Case {
    Case {
        element,
        attribute,
        edits,
        fate,
    }
}

/// A second module schedule, initial, whose frame is 40 ms.
const SECOND_SCHEDULE: &str = r#"</Module_Schedule>
  <Module_Schedule ScheduleName="other" InitialModuleSchedule="true" MajorFrameSeconds="0.04">
    <Partition_Schedule PartitionIdentifier="0" PeriodSeconds="0.04" PeriodDurationSeconds="0.005">
      <Window_Schedule WindowStartSeconds="0" WindowDurationSeconds="0.005"/>
    </Partition_Schedule>
    <Partition_Schedule PartitionIdentifier="1" PeriodSeconds="0.04" PeriodDurationSeconds="0.01">
      <Window_Schedule WindowStartSeconds="0.01" WindowDurationSeconds="0.01"/>
    </Partition_Schedule>
  </Module_Schedule>"#;

/// Every attribute of the ARINC 653 Part 1 schema, by element, with its fate.
const CASES: &[Case] = &[
    // <ARINC_653_Module>
    case(
        "ARINC_653_Module",
        "ModuleName",
        &[(r#"ModuleName="attrs""#, r#"ModuleName="Other Name""#)],
        Fate::Toml("[module]\nname = \"other_name\"\n"),
    ),
    case(
        "ARINC_653_Module",
        "ModuleVersion",
        &[(
            r#"ModuleName="attrs""#,
            r#"ModuleName="attrs" ModuleVersion="3.2""#,
        )],
        Fate::Note(
            "ModuleVersion \"3.2\" is not kept: a pkernel configuration has no module version or identifier",
        ),
    ),
    case(
        "ARINC_653_Module",
        "ModuleId",
        &[(
            r#"ModuleName="attrs""#,
            r#"ModuleName="attrs" ModuleId="9""#,
        )],
        Fate::Note(
            "ModuleId \"9\" is not kept: a pkernel configuration has no module version or identifier",
        ),
    ),
    // <Partition>
    case(
        "Partition",
        "PartitionIdentifier",
        // Every reference to it, one edit each.
        &[(r#"PartitionIdentifier="1""#, r#"PartitionIdentifier="5""#); 6],
        Fate::Note(
            "PartitionIdentifier is not kept: pkernel numbers partitions in file order from 0 (the identifier GET_PARTITION_STATUS returns): \"b\" 5 → 1",
        ),
    ),
    case(
        "Partition",
        "PartitionName",
        &[(r#"PartitionName="a""#, r#"PartitionName="alpha""#); 3],
        Fate::Toml("[[partition]]\nname = \"alpha\"\n"),
    ),
    case(
        "Partition",
        "Criticality",
        &[(r#"Criticality="LEVEL_B""#, r#"Criticality="LEVEL_D""#)],
        Fate::Toml("criticality = \"D\"\n"),
    ),
    case(
        "Partition",
        "SystemPartition",
        &[(r#"SystemPartition="false""#, r#"SystemPartition="true""#)],
        Fate::Toml("name = \"a\"\nkind = \"system\"\n"),
    ),
    case(
        "Partition",
        "EntryPoint",
        &[(r#"SystemPartition="false""#, r#"EntryPoint="main_a""#)],
        Fate::Note(
            "EntryPoint is not kept: a partition starts at its ELF's entry point (\"a\": \"main_a\")",
        ),
    ),
    // <Sampling_Port>
    case(
        "Sampling_Port",
        "Name",
        &[
            (r#"Name="s_out""#, r#"Name="out2""#),
            (r#"PortName="s_out""#, r#"PortName="out2""#),
        ],
        Fate::Toml("[[channel]]\nname = \"speed\"\nsource = \"a.out2\"\n"),
    ),
    case(
        "Sampling_Port",
        "MaxMessageSize",
        &[(
            r#"MaxMessageSize="64" Direction="DESTINATION""#,
            r#"MaxMessageSize="100" Direction="DESTINATION""#,
        )],
        Fate::Toml("name = \"s_in\"\n  direction = \"destination\"\n  max_message_size = 100\n"),
    ),
    case(
        "Sampling_Port",
        "Direction",
        &[(
            r#"MaxMessageSize="64" Direction="DESTINATION""#,
            r#"MaxMessageSize="64" Direction="SOURCE""#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "port \"s_in\" is a SOURCE port but is the channel's destination",
        ),
    ),
    case(
        "Sampling_Port",
        "RefreshRateSeconds",
        &[(
            r#"RefreshRateSeconds="0.04""#,
            r#"RefreshRateSeconds="0.08""#,
        )],
        Fate::Toml(
            "name = \"s_in\"\n  direction = \"destination\"\n  max_message_size = 64\n  refresh_period = \"80ms\"\n",
        ),
    ),
    // <Queuing_Port>
    case(
        "Queuing_Port",
        "Name",
        &[
            (r#"Name="q_in""#, r#"Name="cmd_in""#),
            (r#"PortName="q_in""#, r#"PortName="cmd_in""#),
        ],
        Fate::Toml("destinations = [\"a.cmd_in\"]\n"),
    ),
    case(
        "Queuing_Port",
        "MaxMessageSize",
        &[(
            r#"Name="q_in" MaxMessageSize="32""#,
            r#"Name="q_in" MaxMessageSize="48""#,
        )],
        Fate::Toml("name = \"q_in\"\n  direction = \"destination\"\n  max_message_size = 48\n"),
    ),
    case(
        "Queuing_Port",
        "Direction",
        &[(
            r#"Name="q_in" MaxMessageSize="32" Direction="DESTINATION""#,
            r#"Name="q_in" MaxMessageSize="32" Direction="SOURCE""#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "port \"q_in\" is a SOURCE port but is the channel's destination",
        ),
    ),
    case(
        "Queuing_Port",
        "MaxNbMessages",
        &[(r#"MaxNbMessages="4""#, r#"MaxNbMessages="6""#); 2],
        Fate::Toml("max_messages = 6\n"),
    ),
    // <Partition_Memory>
    case(
        "Partition_Memory",
        "PartitionIdentifier",
        &[(
            r#"<Partition_Memory PartitionIdentifier="1">"#,
            r#"<Partition_Memory PartitionIdentifier="7">"#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Partition_Memory> refers to PartitionIdentifier 7, which no <Partition> declares",
        ),
    ),
    case(
        "Partition_Memory",
        "PartitionName",
        &[(
            r#"<Partition_Memory PartitionIdentifier="0" PartitionName="a">"#,
            r#"<Partition_Memory PartitionIdentifier="0" PartitionName="zz">"#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Partition_Memory> names partition 0 \"zz\", but that partition is called \"a\"",
        ),
    ),
    // <Memory_Requirements>
    case(
        "Memory_Requirements",
        "RegionName",
        &[(r#"RegionName="code""#, r#"RegionName="Boot Code""#)],
        Fate::Toml("[[partition.memory]]\n  name = \"boot_code\"\n"),
    ),
    case(
        "Memory_Requirements",
        "Type",
        &[(
            r#"Type="CODE" SizeBytes="0x20000""#,
            r#"Type="DATA" SizeBytes="0x20000""#,
        )],
        Fate::Toml("size = 0x2_0000\n  access = \"r\"\n"),
    ),
    case(
        "Memory_Requirements",
        "SizeBytes",
        &[(r#"SizeBytes="0x10000""#, r#"SizeBytes="0x30000""#)],
        Fate::Toml("size = 0x3_0000\n  access = \"rx\"\n"),
    ),
    case(
        "Memory_Requirements",
        "Access",
        &[(r#"Access="READ_EXECUTE""#, r#"Access="READ_WRITE_EXECUTE""#)],
        Fate::Toml("access = \"rwx\"\n"),
    ),
    case(
        "Memory_Requirements",
        "PhysicalAddress",
        &[(
            r#"Access="READ_EXECUTE""#,
            r#"Access="READ_EXECUTE" PhysicalAddress="0x48000000""#,
        )],
        Fate::Toml("name = \"code\"\n  ipa = 0x4800_0000\n"),
    ),
    // <Module_Schedule>
    case(
        "Module_Schedule",
        "MajorFrameSeconds",
        &[(r#"MajorFrameSeconds="0.02""#, r#"MajorFrameSeconds="0.04""#)],
        Fate::Toml("[[schedule]]\ncore = 0\nmajor_frame = \"40ms\"\n"),
    ),
    case(
        "Module_Schedule",
        "ScheduleIdentifier",
        &[(
            r#"MajorFrameSeconds="0.02""#,
            r#"MajorFrameSeconds="0.02" ScheduleIdentifier="3""#,
        )],
        Fate::Note(
            "the module schedule's ScheduleIdentifier \"3\" is not kept: it becomes the one [[schedule]] of core 0, which has neither",
        ),
    ),
    case(
        "Module_Schedule",
        "ScheduleName",
        &[(
            r#"MajorFrameSeconds="0.02""#,
            r#"MajorFrameSeconds="0.02" ScheduleName="main""#,
        )],
        Fate::Note(
            "the module schedule's ScheduleName \"main\" is not kept: it becomes the one [[schedule]] of core 0, which has neither",
        ),
    ),
    case(
        "Module_Schedule",
        "InitialModuleSchedule",
        &[("</Module_Schedule>", SECOND_SCHEDULE)],
        Fate::Toml("major_frame = \"40ms\"\n"),
    ),
    // <Partition_Schedule>
    case(
        "Partition_Schedule",
        "PartitionIdentifier",
        &[(
            r#"<Partition_Schedule PartitionIdentifier="1""#,
            r#"<Partition_Schedule PartitionIdentifier="7""#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Partition_Schedule> refers to PartitionIdentifier 7, which no <Partition> declares",
        ),
    ),
    case(
        "Partition_Schedule",
        "PartitionName",
        &[(
            r#"PartitionName="a" PeriodSeconds"#,
            r#"PartitionName="zz" PeriodSeconds"#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Partition_Schedule> names partition 0 \"zz\", but that partition is called \"a\"",
        ),
    ),
    case(
        "Partition_Schedule",
        "PeriodSeconds",
        &[(
            r#"PartitionName="a" PeriodSeconds="0.02""#,
            r#"PartitionName="a" PeriodSeconds="0.01""#,
        )],
        Fate::Toml("core = 0\nperiod = \"10ms\"\nduration = \"5ms\"\n"),
    ),
    case(
        "Partition_Schedule",
        "PeriodDurationSeconds",
        &[(
            r#"PeriodDurationSeconds="0.005""#,
            r#"PeriodDurationSeconds="0.004""#,
        )],
        Fate::Toml("period = \"20ms\"\nduration = \"4ms\"\n"),
    ),
    case(
        "Partition_Schedule",
        "SetModuleSchedule",
        &[(
            r#"PeriodDurationSeconds="0.005""#,
            r#"PeriodDurationSeconds="0.005" SetModuleSchedule="true""#,
        )],
        Fate::Note(
            "what the Partition_Schedules say about changing module schedules is not kept: pkernel has one fixed schedule per core, which no partition changes: \"a\" (SetModuleSchedule \"true\")",
        ),
    ),
    case(
        "Partition_Schedule",
        "ScheduleChangeAction",
        &[(
            r#"PeriodDurationSeconds="0.005""#,
            r#"PeriodDurationSeconds="0.005" ScheduleChangeAction="COLD_START""#,
        )],
        Fate::Note("which no partition changes: \"a\" (ScheduleChangeAction \"COLD_START\")"),
    ),
    // <Window_Schedule>
    case(
        "Window_Schedule",
        "WindowIdentifier",
        &[(
            r#"<Window_Schedule WindowStartSeconds="0""#,
            r#"<Window_Schedule WindowIdentifier="11" WindowStartSeconds="0""#,
        )],
        Fate::Note(
            "WindowIdentifier is not kept (\"11\"): a pkernel window is known by its place in the core's schedule, in offset order",
        ),
    ),
    case(
        "Window_Schedule",
        "WindowStartSeconds",
        &[(
            r#"WindowStartSeconds="0.01" WindowDurationSeconds="0.01""#,
            r#"WindowStartSeconds="0.012" WindowDurationSeconds="0.008""#,
        )],
        Fate::Toml("partition = \"b\"\n  offset = \"12ms\"\n  duration = \"8ms\"\n"),
    ),
    case(
        "Window_Schedule",
        "WindowDurationSeconds",
        &[(
            r#"WindowStartSeconds="0" WindowDurationSeconds="0.005""#,
            r#"WindowStartSeconds="0" WindowDurationSeconds="0.006""#,
        )],
        Fate::Toml("partition = \"a\"\n  offset = \"0s\"\n  duration = \"6ms\"\n"),
    ),
    case(
        "Window_Schedule",
        "PartitionPeriodStart",
        &[(
            r#"WindowDurationSeconds="0.005""#,
            r#"WindowDurationSeconds="0.005" PartitionPeriodStart="true""#,
        )],
        Fate::Note(
            "PartitionPeriodStart is not kept (windows line 30): pkernel starts a partition's periods at multiples of its period from the start of the major frame",
        ),
    ),
    // <Channel>
    case(
        "Channel",
        "ChannelIdentifier",
        &[(
            r#"<Channel ChannelName="speed">"#,
            r#"<Channel ChannelIdentifier="1" ChannelName="speed">"#,
        )],
        Fate::Note("ChannelIdentifier is not kept: a pkernel channel is known by its name"),
    ),
    case(
        "Channel",
        "ChannelName",
        &[(r#"ChannelName="speed""#, r#"ChannelName="Speed Data""#)],
        Fate::Toml("[[channel]]\nname = \"speed_data\"\n"),
    ),
    // <Standard_Partition>
    case(
        "Standard_Partition",
        "PartitionIdentifier",
        &[(
            r#"PartitionIdentifier="1" PortName="s_in""#,
            r#"PartitionIdentifier="7" PortName="s_in""#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Standard_Partition> refers to PartitionIdentifier 7, which no <Partition> declares",
        ),
    ),
    case(
        "Standard_Partition",
        "PartitionName",
        &[(
            r#"PartitionIdentifier="1" PortName="s_in""#,
            r#"PartitionIdentifier="1" PartitionName="zz" PortName="s_in""#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Standard_Partition> names partition 1 \"zz\", but that partition is called \"b\"",
        ),
    ),
    case(
        "Standard_Partition",
        "PortName",
        &[(r#"PortName="s_in""#, r#"PortName="nope""#)],
        Fate::Refused(
            Rule::XmlInvalid,
            "partition \"b\" (PartitionIdentifier 1) has no port named \"nope\"",
        ),
    ),
    case(
        "Standard_Partition",
        "PhysicalAddress",
        &[(
            r#"PortName="s_in""#,
            r#"PortName="s_in" PhysicalAddress="0x1000""#,
        )],
        Fate::Note(
            "PhysicalAddress of channel ends is not used: pkernel places every channel buffer in [module] shared_memory",
        ),
    ),
    // <Pseudo_Partition>
    case(
        "Pseudo_Partition",
        "Name",
        &[(PSEUDO_AT, PSEUDO)],
        Fate::Note(
            "channel \"speed\": destination Pseudo_Partition \"Recorder\" (outside the module",
        ),
    ),
    case(
        "Pseudo_Partition",
        "PhysicalAddress",
        &[(PSEUDO_AT, PSEUDO)],
        Fate::Note("(outside the module; PhysicalAddress \"0x2000\"; "),
    ),
    case(
        "Pseudo_Partition",
        "Procedure",
        &[(PSEUDO_AT, PSEUDO)],
        Fate::Note("; Procedure \"record\") is dropped"),
    ),
    // The health-monitor tables.
    case(
        "System_State_Entry",
        "SystemState",
        &[(
            r#"<System_State_Entry SystemState="1" Description"#,
            r#"<System_State_Entry SystemState="x" Description"#,
        )],
        Fate::Refused(Rule::XmlInvalid, "SystemState \"x\" is not an identifier"),
    ),
    case(
        "System_State_Entry",
        "Description",
        &[(
            r#"<Error_ID_Action ErrorIdentifier="2" Action="SHUTDOWN"/>"#,
            r#"<Error_ID_Action ErrorIdentifier="2" Action="SHUTDOWN"/>
    </System_State_Entry>
    <System_State_Entry SystemState="0" Description="Module initialization">
      <Error_ID_Action ErrorIdentifier="2" Action="RESET"/>"#,
        )],
        Fate::Note("(\"Partition execution\")"),
    ),
    // An error identifier links the System_HM_Table's entry to the actions: renumbered on
    // both sides, the action is the same.
    case(
        "Error_ID_Level",
        "ErrorIdentifier",
        &[
            (
                r#"ErrorIdentifier="1" ErrorLevel"#,
                r#"ErrorIdentifier="9" ErrorLevel"#,
            ),
            (
                r#"ErrorIdentifier="1" Action"#,
                r#"ErrorIdentifier="9" Action"#,
            ),
        ],
        Fate::Toml("[partition.hm]\n  deadline_missed = \"cold_start\"\n"),
    ),
    case(
        "Error_ID_Level",
        "ErrorLevel",
        &[(r#"ErrorLevel="MODULE""#, r#"ErrorLevel="SOMEWHERE""#)],
        Fate::Refused(
            Rule::XmlInvalid,
            "ErrorLevel \"SOMEWHERE\" is not MODULE, PARTITION or PROCESS",
        ),
    ),
    case(
        "Error_ID_Level",
        "ErrorCode",
        &[(
            r#"ErrorCode="DEADLINE_MISSED""#,
            r#"ErrorCode="NUMERIC_ERROR""#,
        )],
        Fate::Toml("[partition.hm]\n  numeric_error = \"cold_start\"\n"),
    ),
    case(
        "Error_ID_Level",
        "Description",
        &[(
            r#"ErrorCode="DEADLINE_MISSED""#,
            r#"ErrorCode="DEADLINE_MISSED" Description="Deadline""#,
        )],
        Fate::Toml("[partition.hm]\n  deadline_missed = \"cold_start\"\n"),
    ),
    case(
        "Error_ID_Action",
        "ErrorIdentifier",
        &[(
            r#"ErrorIdentifier="1" Action"#,
            r#"ErrorIdentifier="DEADLINE_MISSED" Action"#,
        )],
        Fate::Toml("[partition.hm]\n  deadline_missed = \"cold_start\"\n"),
    ),
    case(
        "Error_ID_Action",
        "Action",
        &[(r#"Action="COLD_START""#, r#"Action="WARM_START""#)],
        Fate::Toml("[partition.hm]\n  deadline_missed = \"warm_start\"\n"),
    ),
    case(
        "Error_ID_Action",
        "Description",
        &[(
            r#"Action="COLD_START""#,
            r#"Action="COLD_START" Description="Deadline""#,
        )],
        Fate::Toml("[partition.hm]\n  deadline_missed = \"cold_start\"\n"),
    ),
    case(
        "Module_HM_Table",
        "ModuleCallback",
        &[(
            "<Module_HM_Table>",
            r#"<Module_HM_Table ModuleCallback="on_error">"#,
        )],
        Fate::Note("ModuleCallback is not kept"),
    ),
    case(
        "Partition_HM_Table",
        "PartitionIdentifier",
        &[(
            r#"<Partition_HM_Table PartitionIdentifier="1""#,
            r#"<Partition_HM_Table PartitionIdentifier="7""#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Partition_HM_Table> refers to PartitionIdentifier 7, which no <Partition> declares",
        ),
    ),
    case(
        "Partition_HM_Table",
        "PartitionName",
        &[(
            r#"<Partition_HM_Table PartitionIdentifier="1" PartitionName="b">"#,
            r#"<Partition_HM_Table PartitionIdentifier="1" PartitionName="zz">"#,
        )],
        Fate::Refused(
            Rule::XmlInvalid,
            "<Partition_HM_Table> names partition 1 \"zz\", but that partition is called \"b\"",
        ),
    ),
    case(
        "Partition_HM_Table",
        "PartitionCallback",
        &[(
            r#"PartitionName="b">"#,
            r#"PartitionName="b" PartitionCallback="b_errors">"#,
        )],
        Fate::Note("PartitionCallback of partition \"b\" is not kept"),
    ),
];

/// Where the pseudo partition destination goes, and what it is.
const PSEUDO_AT: &str =
    r#"<Destination><Standard_Partition PartitionIdentifier="1" PortName="s_in"/></Destination>"#;
const PSEUDO: &str = r#"<Destination><Standard_Partition PartitionIdentifier="1" PortName="s_in"/></Destination>
      <Destination><Pseudo_Partition Name="Recorder" PhysicalAddress="0x2000" Procedure="record"/></Destination>"#;

/// Every attribute of the Part 1 schema (ARINC 653P1-3, as POK's `arinc653-schema.xsd` and
/// AIR's `air_module_a653.xsd` give it).
const SCHEMA: &[(&str, &[&str])] = &[
    (
        "ARINC_653_Module",
        &["ModuleName", "ModuleVersion", "ModuleId"],
    ),
    ("System_State_Entry", &["SystemState", "Description"]),
    (
        "Error_ID_Level",
        &["ErrorIdentifier", "ErrorLevel", "ErrorCode", "Description"],
    ),
    (
        "Error_ID_Action",
        &["ErrorIdentifier", "Action", "Description"],
    ),
    ("Module_HM_Table", &["ModuleCallback"]),
    (
        "Partition",
        &[
            "PartitionIdentifier",
            "PartitionName",
            "Criticality",
            "SystemPartition",
            "EntryPoint",
        ],
    ),
    (
        "Sampling_Port",
        &["Name", "MaxMessageSize", "Direction", "RefreshRateSeconds"],
    ),
    (
        "Queuing_Port",
        &["Name", "MaxMessageSize", "Direction", "MaxNbMessages"],
    ),
    (
        "Partition_Memory",
        &["PartitionIdentifier", "PartitionName"],
    ),
    (
        "Memory_Requirements",
        &[
            "RegionName",
            "Type",
            "SizeBytes",
            "Access",
            "PhysicalAddress",
        ],
    ),
    (
        "Module_Schedule",
        &[
            "MajorFrameSeconds",
            "ScheduleIdentifier",
            "ScheduleName",
            "InitialModuleSchedule",
        ],
    ),
    (
        "Partition_Schedule",
        &[
            "PartitionIdentifier",
            "PartitionName",
            "PeriodSeconds",
            "PeriodDurationSeconds",
            "SetModuleSchedule",
            "ScheduleChangeAction",
        ],
    ),
    (
        "Window_Schedule",
        &[
            "WindowIdentifier",
            "WindowStartSeconds",
            "WindowDurationSeconds",
            "PartitionPeriodStart",
        ],
    ),
    (
        "Partition_HM_Table",
        &["PartitionIdentifier", "PartitionName", "PartitionCallback"],
    ),
    ("Channel", &["ChannelIdentifier", "ChannelName"]),
    (
        "Standard_Partition",
        &[
            "PartitionIdentifier",
            "PartitionName",
            "PortName",
            "PhysicalAddress",
        ],
    ),
    (
        "Pseudo_Partition",
        &["Name", "PhysicalAddress", "Procedure"],
    ),
];

fn import(name: &str, xml: &str) -> Result<Imported, schedule_gen::Diagnostics> {
    import_str(name, xml, &ImportOptions::default())
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/import_attributes")
        .join(name)
}

/// The base imports, loads, and says nothing about the attributes the cases add.
#[test]
fn the_base_imports_without_notes_about_attributes() {
    let imported = import("base.xml", BASE).unwrap_or_else(|e| panic!("{e}"));
    imported
        .check("base.toml", Path::new("/cfg"))
        .unwrap_or_else(|e| panic!("{e}\n{}", imported.toml));
    for note in &imported.notes {
        for word in [
            "not kept",
            "attributes with no pkernel equivalent",
            "Pseudo",
        ] {
            assert!(!note.contains(word), "{note}");
        }
    }
}

#[test]
fn every_schema_attribute_has_a_case() {
    for (element, attributes) in SCHEMA {
        for attribute in *attributes {
            assert!(
                CASES
                    .iter()
                    .any(|c| c.element == *element && c.attribute == *attribute),
                "no case for {attribute} of <{element}>"
            );
        }
    }
    for c in CASES {
        assert!(
            SCHEMA
                .iter()
                .any(|(e, a)| *e == c.element && a.contains(&c.attribute)),
            "{} of <{}> is not in the schema list",
            c.attribute,
            c.element
        );
    }
}

#[test]
fn every_attribute_is_imported_noted_or_refused() {
    for c in CASES {
        let label = format!("{} of <{}>", c.attribute, c.element);
        let mut xml = BASE.to_owned();
        for (from, to) in c.edits {
            assert!(xml.contains(from), "{label}: {from:?} is not in the base");
            xml = xml.replacen(from, to, 1);
        }
        let result = import("case.xml", &xml);
        match (c.fate, result) {
            (Fate::Toml(text), Ok(i)) => {
                assert!(i.toml.contains(text), "{label}: no {text:?} in\n{}", i.toml);
            }
            (Fate::Note(text), Ok(i)) => {
                assert!(
                    i.notes.iter().any(|n| n.contains(text)),
                    "{label}: no note with {text:?}:\n{}",
                    i.notes.join("\n")
                );
            }
            (Fate::Refused(rule, text), Err(e)) => {
                assert!(
                    e.iter().any(|d| d.rule == rule && d.message.contains(text)),
                    "{label}: no {rule:?} error with {text:?}:\n{e}"
                );
            }
            (fate, Ok(i)) => panic!("{label}: imported, expected {fate:?}:\n{}", i.toml),
            (fate, Err(e)) => panic!("{label}: refused, expected {fate:?}:\n{e}"),
        }
    }
}

/// A sampling source's refresh period is kept (the issue: it was dropped without a note);
/// zero, which pkernel refuses, is noted on a source and refused on a destination.
#[test]
fn refresh_rates_of_sources_are_kept_and_zero_is_never_silent() {
    let xml = BASE.replace(
        r#"Name="s_out" MaxMessageSize="64" Direction="SOURCE""#,
        r#"Name="s_out" MaxMessageSize="64" Direction="SOURCE" RefreshRateSeconds="0.05""#,
    );
    let imported = import("src.xml", &xml).unwrap();
    assert!(
        imported.toml.contains(
            "  name = \"s_out\"\n  direction = \"source\"\n  max_message_size = 64\n  refresh_period = \"50ms\"\n"
        ),
        "{}",
        imported.toml
    );
    imported.check("src.toml", Path::new("/cfg")).unwrap();

    let xml = xml.replace(r#"RefreshRateSeconds="0.05""#, r#"RefreshRateSeconds="0""#);
    let imported = import("zero.xml", &xml).unwrap();
    assert!(!imported.toml.contains("refresh_period = \"0s\""));
    assert!(
        imported.notes.contains(
            &"RefreshRateSeconds 0 of sampling source \"s_out\" of \"a\" is not written: pkernel refuses a zero refresh_period, and a source's has no effect"
                .to_owned()
        ),
        "{:?}",
        imported.notes
    );

    let xml = BASE.replace(
        r#"RefreshRateSeconds="0.04""#,
        r#"RefreshRateSeconds="0.0""#,
    );
    let e = import("zero.xml", &xml).unwrap_err();
    assert_eq!(
        e.to_string(),
        "zero.xml:19:96: error[E102-xml-unmappable]: sampling destination <Sampling_Port> has a RefreshRateSeconds of zero\n  help: pkernel needs a positive refresh period on a sampling destination (how long a message stays valid): give it in seconds"
    );
}

/// Attributes outside the schema, or where the schema does not put them, are noted by name.
#[test]
fn attributes_the_import_does_not_read_are_noted() {
    let xml = BASE
        .replace(
            r#"PartitionName="a" Criticality"#,
            r#"PartitionName="a" Vendor="x" Criticality"#,
        )
        .replace(
            r#"Name="s_out" MaxMessageSize="64""#,
            r#"Name="s_out" MaxNbMessages="3" MaxMessageSize="64""#,
        )
        .replace(
            r#"<ARINC_653_Module ModuleName="attrs">"#,
            r#"<ARINC_653_Module xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="a653.xsd" ModuleName="attrs">"#,
        );
    let imported = import("extra.xml", &xml).unwrap();
    assert!(
        imported.notes.contains(
            &"attributes with no pkernel equivalent (free-text descriptions, implementation extensions, ...) are ignored: MaxNbMessages on <Sampling_Port>, Vendor on <Partition>"
                .to_owned()
        ),
        "{:?}",
        imported.notes
    );
}

/// Other hypervisors' configuration formats are named, with what to do.
#[test]
fn other_formats_are_recognised() {
    for (file, expected) in [
        (
            "xng.xml",
            "xng.xml:3:1: error[E101-xml-invalid]: this is a fentISS XNG module configuration (<Module> in namespace \"http://www.fentiss.com/xngModuleXml\"), not an ARINC 653 Part 1 module configuration (root <ARINC_653_Module>): XNG's format is not imported\n  help: import the system's ARINC 653 Part 1 module configuration (root <ARINC_653_Module>) if it has one, or write the pkernel configuration from the XNG one by hand (docs/configuration.md describes the format)",
        ),
        (
            "xtratum.xml",
            "xtratum.xml:3:1: error[E101-xml-invalid]: this is an XtratuM system description (root <SystemDescription>, XtratuM's XML configuration), not an ARINC 653 Part 1 module configuration (root <ARINC_653_Module>): XtratuM's format is not imported\n  help: import the system's ARINC 653 Part 1 module configuration (root <ARINC_653_Module>) if it has one, or write the pkernel configuration from the XtratuM one by hand (docs/configuration.md describes the format)",
        ),
        (
            "air_iop.xml",
            "air_iop.xml:3:1: error[E101-xml-invalid]: this is an AIR I/O partition description (root <IOPartition>: the devices and routes of AIR's I/O partition), not an ARINC 653 Part 1 module configuration (root <ARINC_653_Module>)\n  help: import the AIR module configuration (root <ARINC_653_Module>) instead; give the I/O partition's devices to its partition by hand with [[partition.device]]",
        ),
    ] {
        let text = std::fs::read_to_string(fixture(file)).unwrap();
        let e = import(file, &text).unwrap_err();
        assert_eq!(e.to_string(), expected);
    }
}

/// Only the initial module schedule is read: a partition scheduled only in another is told
/// which schedule was read and where it is scheduled.
#[test]
fn a_partition_only_in_a_schedule_left_out_is_told_which_was_read() {
    let text = std::fs::read_to_string(fixture("several_schedules.xml")).unwrap();
    let e = import("several_schedules.xml", &text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "several_schedules.xml:5:3: error[E102-xml-unmappable]: partition \"p3\" (PartitionIdentifier 3) has no <Partition_Schedule> in module schedule \"flight\" at line 6, the initial one, the only one imported; only \"maintenance\" at line 11 schedules it\n  help: pkernel has one fixed schedule per core, so the import reads one module schedule: add a <Partition_Schedule> for the partition to \"flight\" at line 6, or mark the schedule to import InitialModuleSchedule=\"true\""
    );
}

/// When what the XML says breaks a pkernel rule, the check of the imported configuration
/// names the XML element each error's line came from.
#[test]
fn errors_in_the_imported_configuration_point_at_the_xml() {
    let xml = BASE
        .replace(
            r#"RefreshRateSeconds="0.04""#,
            r#"RefreshRateSeconds="0.000000001""#,
        )
        .replace(
            r#"WindowStartSeconds="0.01" WindowDurationSeconds="0.01""#,
            r#"WindowStartSeconds="0.015" WindowDurationSeconds="0.01""#,
        );
    let imported = import("rules.xml", &xml).unwrap();
    let e = imported.check("rules.toml", Path::new("/cfg")).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("error[E006-duration-not-whole-ticks]: refresh period \"1ns\" is not a whole number of system counter ticks (62500000 Hz, one tick = 16ns) (from <Sampling_Port> at rules.xml:19:5)\n"),
        "{text}"
    );
    assert!(
        text.contains("error[E070-window-outside-frame]: the window of partition \"b\" runs from 15ms to 25ms, past the end of the major frame (20ms) (from <Window_Schedule> at rules.xml:33:7)\n"),
        "{text}"
    );
    // Errors about what the import chose itself (no XML element) are left as they are.
    let plain = schedule_gen::Diagnostics::new(vec![schedule_gen::Diagnostic::new(
        Rule::InvalidValue,
        "rules.toml",
        "m",
        "h",
    )]);
    assert_eq!(imported.point_at_xml(plain.clone()), plain);
}

/// XML allows other encodings than UTF-8: UTF-16 and ISO-8859-1 (and windows-1252, its usual
/// superset) are read; anything else is refused naming it, and bytes that are not text in the
/// encoding are refused where they are.
#[test]
fn encodings_are_read_or_named() {
    for (file, name) in [
        ("utf16le.xml", "Caméra"),
        ("utf16be.xml", "Caméra"),
        ("latin1.xml", "Caméra"),
        ("windows1252.xml", "Caméra “A”"),
    ] {
        let imported = import_file(&fixture(file), &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains(&format!("{name:?} → \"cam_ra"))),
            "{file}: {:?}",
            imported.notes
        );
    }
    let e = import_file(&fixture("ebcdic.xml"), &ImportOptions::default()).unwrap_err();
    assert_eq!(e.rules(), vec![Rule::ConfigUnreadable]);
    assert!(
        e.to_string().ends_with(
            "ebcdic.xml:1:31: error[E000-config-unreadable]: the file is in encoding \"EBCDIC-US\", as its XML declaration says, which the importer does not read\n  help: save the file as UTF-8 (UTF-16 and ISO-8859-1 are read too) and declare that encoding in its first line"
        ),
        "{e}"
    );
    let e = import_file(&fixture("undeclared_latin1.xml"), &ImportOptions::default()).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "undeclared_latin1.xml:3:56: error[E100-xml-syntax]: byte 0xE9 is not UTF-8 text (an XML file without an encoding declaration is UTF-8)\n  help: declare the file's real encoding in its first line, e.g. <?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>, or save it as UTF-8"
        ),
        "{e}"
    );
    let e = import_bytes(
        "f.xml",
        b"<?xml version='1.0' encoding='UTF-16'?><ARINC_653_Module/>",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "f.xml:1:31: error[E100-xml-syntax]: the XML declaration says \"UTF-16\", but the file is not UTF-16: it has no byte order mark and the declaration itself is 8-bit text\n  help: correct the encoding in the declaration (UTF-8 if the file was converted), or save the file as UTF-16 with a byte order mark"
    );
    // A missing file is still about the path, and no longer about UTF-8.
    let missing = fixture("does-not-exist.xml");
    let e = import_file(&missing, &ImportOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("\n  help: check the path of the XML file and that it can be read"),
        "{e}"
    );
}

/// A 1 MB name gave a 2 MB message: every echo of XML text is cut, saying how long it was.
#[test]
fn echoed_xml_text_is_bounded() {
    let huge = "n".repeat(1 << 20);
    for xml in [
        format!(
            r#"<ARINC_653_Module><Partition PartitionIdentifier="1" PartitionName="{huge}"/><Module_Schedule MajorFrameSeconds="1"/></ARINC_653_Module>"#
        ),
        format!("<{huge}/>"),
        format!(
            r#"<ARINC_653_Module><Partition PartitionIdentifier="1" SystemPartition="{huge}"/></ARINC_653_Module>"#
        ),
        format!("<ARINC_653_Module>&{huge};</ARINC_653_Module>"),
    ] {
        let e = import("huge.xml", &xml).unwrap_err();
        let text = e.to_string();
        assert!(
            text.len() < 2000,
            "{} bytes:\n{}",
            text.len(),
            &text[..2000.min(text.len())]
        );
        // The parser's messages are cut whole (at 200 characters).
        assert!(
            text.contains("… (1048576 bytes)") || text.contains("… (1048603 bytes)"),
            "{text}"
        );
    }
    // Notes too: the name of an attribute the import does not read.
    let xml = BASE.replace(
        r#"PartitionName="a" Criticality"#,
        &format!(r#"PartitionName="a" {huge}="x" Criticality"#),
    );
    let imported = import("huge.xml", &xml).unwrap();
    let note = imported
        .notes
        .iter()
        .find(|n| n.starts_with("attributes with no pkernel equivalent"))
        .unwrap();
    assert!(
        note.len() < 300 && note.contains("… (1048576 bytes) on <Partition>"),
        "{note}"
    );
}

/// Errors about TOML values say what is expected in words, not in Rust types.
#[test]
fn no_rust_type_names_in_toml_errors() {
    let toml = import("base.xml", BASE).unwrap().toml;
    for (from, to, expected) in [
        (
            "max_message_size = 64",
            "max_message_size = 99999999999999999999",
            "invalid value: integer `99999999999999999999` is too large, expected an integer",
        ),
        (
            "max_message_size = 64",
            "max_message_size = \"64\"",
            "invalid type: string \"64\", expected an integer",
        ),
        (
            "size = 0x1_0000",
            "size = -4096",
            "invalid value: integer `-4096`, expected a non-negative integer",
        ),
    ] {
        assert!(toml.contains(from), "{from}");
        let e = schedule_gen::load_str("t.toml", &toml.replacen(from, to, 1), Path::new("/cfg"))
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("error[E003-invalid-value]: {expected}\n")),
            "{text}"
        );
        for ty in ["i128", "i64", "u64", "usize"] {
            assert!(!text.contains(ty), "{text}");
        }
    }
}

/// One is singular.
#[test]
fn counts_of_one_are_singular() {
    // The validator: one channel without shared memory.
    let one_channel = BASE
        .replace(r#"<Queuing_Port Name="q_in" MaxMessageSize="32" Direction="DESTINATION" MaxNbMessages="4"/>"#, "")
        .replace(r#"<Queuing_Port Name="q_out" MaxMessageSize="32" Direction="SOURCE" MaxNbMessages="4"/>"#, "");
    let start = one_channel.find(r#"<Channel ChannelName="cmd">"#).unwrap();
    let end = one_channel[start..].find("</Channel>").unwrap() + start + "</Channel>".len();
    let one_channel = format!("{}{}", &one_channel[..start], &one_channel[end..]);
    let toml = import("one.xml", &one_channel).unwrap().toml;
    let without_shared: String = toml
        .lines()
        .filter(|l| !l.starts_with("shared_memory"))
        .map(|l| format!("{l}\n"))
        .collect();
    let e = schedule_gen::load_str("one.toml", &without_shared, Path::new("/cfg")).unwrap_err();
    assert!(
        e.to_string()
            .contains("error[E087-invalid-shared-memory]: the module has 1 channel but no shared memory for their buffers"),
        "{e}"
    );

    // The import: a destination port that takes 1-byte messages.
    let xml = BASE.replace(
        r#"MaxMessageSize="64" Direction="DESTINATION""#,
        r#"MaxMessageSize="1" Direction="DESTINATION""#,
    );
    let e = import("one.xml", &xml).unwrap_err();
    assert!(
        e.to_string().contains(
            "destination port \"s_in\" takes messages of at most 1 byte, but source port \"s_out\" sends up to 64"
        ),
        "{e}"
    );
    let xml = BASE.replacen(r#"MaxNbMessages="4""#, r#"MaxNbMessages="1""#, 1);
    let e = import("one.xml", &xml).unwrap_err();
    assert!(
        e.to_string().contains(
            "destination port \"q_in\" holds 1 message, but source port \"q_out\" of partition \"b\" (PartitionIdentifier 1) holds 4"
        ),
        "{e}"
    );

    // The command line: `check` and `import` of one partition.
    let dir = std::env::temp_dir().join(format!("import-attributes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xml_path = dir.join("mini.xml");
    std::fs::write(&xml_path, std::fs::read(fixture("latin1.xml")).unwrap()).unwrap();
    let toml_path = dir.join("mini.toml");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_schedule-gen"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let stdout = run(&[
        "import".as_ref(),
        xml_path.as_os_str(),
        "--out".as_ref(),
        toml_path.as_os_str(),
    ]);
    assert!(
        stdout.starts_with("wrote ") && stdout.ends_with(" notes to review)\n"),
        "{stdout}"
    );
    // (`check` reads no image, so the partition without memory passes.)
    let stdout = run(&["check".as_ref(), toml_path.as_os_str()]);
    assert_eq!(stdout, "ok: 1 partition, 1 schedule, 0 channels\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, .. proptest::prelude::ProptestConfig::default() })]

    /// Decoding is total: whatever the bytes after whatever start, an import or an error.
    #[test]
    fn arbitrary_bytes_never_panic(
        start in 0..6usize,
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
    ) {
        let starts: [&[u8]; 6] = [
            b"",
            &[0xFF, 0xFE],
            &[0xFE, 0xFF],
            &[0xEF, 0xBB, 0xBF],
            b"<?xml version='1.0' encoding='ISO-8859-1'?>",
            b"<?xml version='1.0' encoding='windows-1252'?><ARINC_653_Module>",
        ];
        let mut input = starts[start].to_vec();
        input.extend(bytes);
        let _ = import_bytes("fuzz.xml", &input, &ImportOptions::default());
    }

    /// The base in UTF-16 with one unit changed imports or is refused, never panics.
    #[test]
    fn mutated_utf16_never_panics(at in 0..BASE.len(), unit in proptest::prelude::any::<u16>(), big in proptest::prelude::any::<bool>()) {
        let mut units: Vec<u16> = BASE.encode_utf16().collect();
        let i = at % units.len();
        units[i] = unit;
        let mut input = if big { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
        for u in units {
            input.extend(if big { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        let _ = import_bytes("fuzz.xml", &input, &ImportOptions::default());
    }
}

/// One is singular in the trace reader's messages too (a one-partition, one-window module).
#[test]
fn trace_messages_count_one_in_the_singular() {
    let imported = import_file(&fixture("latin1.xml"), &ImportOptions::default()).unwrap();
    let cfg = imported.check("mini.toml", Path::new("/cfg")).unwrap();
    let header = schedule_gen::trace::csv::CSV_HEADER;
    let problems = |row: &str| {
        schedule_gen::trace::observe::observe(&cfg, "t.csv", &format!("{header}\n{row}\n"))
            .err()
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    let text = problems("0,1,window_start,5,x,0,0,0,0,0");
    assert!(
        text.contains("partition 5 does not exist (the configuration has 1 partition, 0 to 0)"),
        "{text}"
    );
    let text = problems("0,1,window_start,0,cam_ra,3,0,0,0,3");
    assert!(
        text.contains("window 3 does not exist on core 0 (its schedule has 1 window, 0 to 0)"),
        "{text}"
    );
}
