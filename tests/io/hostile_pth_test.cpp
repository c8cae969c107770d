// The importer's security suite: every file of tests/data/fixtures/hostile/ (made by
// tools/fixtures/hostile_pth.py, each named for the attack it tries) must be refused by
// io::load_torch_file with an afinar::Error whose message names what is wrong, without running
// its payload (`touch /tmp/afinar_pwned_hostile`). The table below gives each file the fragment
// its refusal must contain; a file without an entry, or an entry without a file, fails the test,
// so the suite cannot shrink silently. `afinar import` on a few of them exits 1 with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "afinar/io/torch_file.h"
#include "testing/cli.h"
#include "testing/errors.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace afinar {
namespace {

namespace fs = std::filesystem;

const char* const kMarker = "/tmp/afinar_pwned_hostile";

// File -> a fragment of the refusal. Fragments name the opcode, global, index or size at fault.
const std::map<std::string, std::string>& expected_refusals() {
  static const std::map<std::string, std::string> table = {
      // Globals outside the whitelist, through every opcode that names or calls one.
      {"global_os_system_zip.pth", "refusing to load global 'os.system'"},
      {"global_posix_system_zip.pth", "refusing to load global 'posix.system'"},
      {"global_builtins_eval_zip.pth", "refusing to load global 'builtins.eval'"},
      {"global_builtins_exec_zip.pth", "refusing to load global 'builtins.exec'"},
      {"global_subprocess_popen_zip.pth", "refusing to load global 'subprocess.Popen'"},
      {"global_complex_storage_zip.pth", "refusing to load global 'torch.ComplexFloatStorage'"},
      {"global_torch_load_zip.pth", "refusing to load global 'torch.load'"},
      {"stack_global_os_system_zip.pth", "refusing to load global 'os.system'"},
      {"inst_os_system_zip.pth", "refusing to load global 'os.system'"},
      {"obj_subprocess_popen_zip.pth", "refusing to load global 'subprocess.Popen'"},
      {"newobj_subprocess_popen_zip.pth", "refusing to load global 'subprocess.Popen'"},
      {"newobj_rebuild_function_zip.pth",
       "NEWOBJ/INST/OBJ of torch._utils._rebuild_tensor_v2, which is a function, not a class"},
      {"ext1_opcode_zip.pth", "extension registry opcodes (EXT1/2/4) are not allowed"},
      {"ext2_opcode_zip.pth", "extension registry opcodes (EXT1/2/4) are not allowed"},
      {"ext4_opcode_zip.pth", "extension registry opcodes (EXT1/2/4) are not allowed"},
      {"reduce_payload_in_tensor_args_zip.pth", "refusing to load global 'os.system'"},
      {"build_on_global_zip.pth", "BUILD on global torch.FloatStorage"},
      // Whitelisted callables with hostile arguments.
      {"reduce_ordereddict_with_args_zip.pth", "OrderedDict with constructor arguments"},
      {"reduce_rebuild_tensor_string_storage_zip.pth",
       "the storage argument is string 'touch /tmp/afinar_pwned_hostile', not a persistent"},
      {"reduce_storage_class_zip.pth", "is made by torch.FloatStorage with 1 arguments"},
      {"reduce_rebuild_parameter_nested_zip.pth", "malformed _rebuild_parameter"},
      {"persistent_id_module_zip.pth", "the file holds a whole module"},
      // Recursion and nesting.
      {"recursive_list_memo_zip.pth", "recursive structure: a list contains itself"},
      {"recursive_list_dup_zip.pth", "recursive structure: a list contains itself"},
      {"recursive_dict_cycle_zip.pth", "recursive structure: a dict contains itself"},
      {"nested_marks_100k_zip.pth", "more than 256 nested MARKs"},
      {"nested_tuples_100k_zip.pth", "values nested more than 256 deep"},
      {"nested_lists_300_zip.pth", "values nested more than 256 deep"},
      // The memo.
      {"memo_get_unset_zip.pth", "memo key 7 was never stored"},
      {"memo_get_huge_zip.pth", "memo key 4294967295 was never stored"},
      {"memo_put_huge_zip.pth", "memo index 4294967295 is out of range"},
      {"memo_put_negative_zip.pth", "bad PUT index '-1'"},
      {"memo_get_negative_zip.pth", "bad GET index '-1'"},
      // Declared lengths beyond the file or any need.
      {"binunicode8_2e60_zip.pth", "needs 1152921504606846976 bytes but only 2 remain"},
      {"binbytes_4g_zip.pth", "needs 4294967295 bytes but only 3 remain"},
      {"long4_2g_zip.pth", "an integer of 2147483647 bytes"},
      {"long4_100_bytes_zip.pth", "an integer of 100 bytes"},
      {"long4_negative_zip.pth", "negative LONG4 length"},
      {"storage_numel_2e62_zip.pth", "sizes overflow 64-bit arithmetic (4611686018427387904 x 4)"},
      {"tensor_shape_overflow_zip.pth",
       "sizes overflow 64-bit arithmetic (1099511627776 x 1099511627776)"},
      // 2^28 elements from one stored float; 600 views x 2^15 elements of one storage.
      {"tensor_expanded_bomb_zip.pth", "tensors hold 268435456 elements up to 'w'"},
      {"tensor_shared_storage_bomb_zip.pth", "views that repeat storage elements may add at most"},
      // Truncation.
      {"truncated_pickle_zip.pth", "truncated"},
      {"truncated_string_zip.pth", "needs 16 bytes but only 3 remain"},
      {"truncated_archive_zip.pth", "no zip end-of-central-directory record"},
      {"truncated_legacy.pth", "storage data lies outside the file"},
      // Storages.
      {"storage_missing_entry_zip.pth", "has no entry 'archive/data/7'"},
      {"storage_larger_than_entry_zip.pth",
       "declares 1000 FloatStorage elements (4000 bytes) but entry archive/data/0 holds 16 bytes"},
      {"storage_key_traversal_zip.pth",
       "storage key '../../../etc/passwd' is not a torch storage key"},
      {"storage_key_nul_zip.pth", "storage key '0?x' is not a torch storage key"},
      {"storage_type_tensor_class_zip.pth",
       "the storage type is global torch.FloatTensor, not a torch storage class"},
      {"storage_two_types_zip.pth", "is used both as FloatStorage and as LongStorage"},
      {"storage_negative_numel_zip.pth", "storage '0' has negative size -4"},
      {"dtype_float_batch_counter_zip.pth",
       "is stored as FloatStorage but a batch counter must be an integer storage"},
      // Views out of their storage.
      {"view_offset_past_storage_zip.pth", "reads storage element 4 but storage '0' holds only 4"},
      {"view_stride_past_storage_zip.pth", "reads storage element 4 but storage '0' holds only 4"},
      {"view_negative_stride_zip.pth", "negative values"},
      {"view_negative_offset_zip.pth", "negative storage offset -1"},
      {"view_negative_size_zip.pth", "negative values"},
      {"view_rank_mismatch_zip.pth", "has 2 sizes but 1 strides"},
      {"view_65_dims_zip.pth", "has 65 dimensions"},
      // Keys and values.
      {"duplicate_key_zip.pth", "the state_dict key 'w' appears twice"},
      {"key_not_a_string_zip.pth", "a state_dict key is int 5, not a string"},
      {"value_not_a_tensor_zip.pth", "'w' holds int 5, not a tensor"},
      {"root_not_a_dict_zip.pth", "holds list of 1, not a state_dict"},
      // Malformed streams.
      {"unknown_opcode_zip.pth",
       "unknown or unsupported opcode; this is not a torch.save pickle or "
       "it is corrupt (opcode 0xff at byte 2)"},
      {"protocol_9_zip.pth", "unsupported pickle protocol 9"},
      {"stack_underflow_zip.pth", "stack underflow (opcode 0x52 at byte 2)"},
      // The legacy and tar containers.
      {"legacy_os_system.pth", "refusing to load global 'os.system'"},
      {"legacy_recursive_list.pth", "recursive structure: a list contains itself"},
      {"legacy_dict_cycle.pth", "recursive structure: a dict contains itself"},
      {"legacy_nested_marks_100k.pth", "more than 256 nested MARKs"},
      {"legacy_duplicate_key.pth", "the state_dict key 'w' appears twice"},
      {"legacy_storage_key_traversal.pth", "storage key '../x' is not a torch storage key"},
      {"legacy_storage_listed_twice.pth", "storage '0' is listed twice"},
      {"legacy_storage_count_mismatch.pth", "declares 4 elements but its data holds 100"},
      {"legacy_storage_2e60_elements.pth", "storage data lies outside the file"},
      {"legacy_view_past_storage.pth", "reads storage element 5 but storage '0' holds only 4"},
      {"legacy_unlisted_storage.pth", "storage '0' is used by a tensor but has no data"},
      {"legacy_magic_is_os_system.pth", "refusing to load global 'os.system'"},
      {"legacy_sys_info_eval.pth", "refusing to load global 'builtins.eval'"},
      {"legacy_view_metadata_past_root.pth",
       "storage view '1' covers elements [3, 3 + 4) of storage '0', which holds 4"},
      {"tar_os_system.pth", "refusing to load global 'os.system'"},
      // Zip archives.
      {"zip_name_traversal.pth", "zip entry name 'archive/../../../tmp/evil' is absolute, climbs"},
      {"zip_name_absolute.pth", "zip entry name '/tmp/evil' is absolute"},
      {"zip_name_backslash.pth", "zip entry name 'archive\\..\\evil' is absolute"},
      {"zip_duplicate_entry.pth", "zip entry 'archive/data/0' appears twice"},
      {"zip_overlap_same_data.pth", "zip entries 'archive/data/0' and 'archive/data/1' overlap"},
      {"zip_overlap_nested_entry.pth", "zip entries 'archive/data/0' and 'archive/data/1' overlap"},
  };
  return table;
}

std::string hostile(const std::string& name) {
  return testing::test_data_path("fixtures/hostile/" + name);
}

TEST(HostilePth, EveryFileIsRefusedNamingWhatIsWrong) {
  fs::remove(kMarker);
  const auto& table = expected_refusals();
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(hostile("")))
    files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  size_t refused = 0;
  for (const std::string& name : files) {
    auto it = table.find(name);
    if (it == table.end()) {
      ADD_FAILURE() << name << " has no expected refusal in the table";
      continue;
    }
    const std::string msg = testing::error_of([&] { io::load_torch_file(hostile(name)); });
    EXPECT_NE(msg.find(it->second), std::string::npos)
        << name << ": wanted '" << it->second << "', got: " << (msg.empty() ? "no error" : msg);
    // Every refusal names the file, so a user importing many knows which one.
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    refused += msg.find(it->second) != std::string::npos;
  }
  for (const auto& [name, fragment] : table)
    EXPECT_TRUE(fs::exists(hostile(name))) << name << " is in the table but not in the folder";
  EXPECT_FALSE(fs::exists(kMarker)) << "a payload ran";
  EXPECT_GE(files.size(), 80u);  // the script makes 89; fewer means files went missing
  std::printf("[ hostile ] %zu of %zu hostile .pth files refused with the expected message\n",
              refused, files.size());
}

TEST(HostilePth, ImportExitsOneWithOneLine) {
  fs::remove(kMarker);
  testing::TempDir out;
  for (const char* name :
       {"global_os_system_zip.pth", "inst_os_system_zip.pth", "recursive_dict_cycle_zip.pth",
        "nested_marks_100k_zip.pth", "tensor_expanded_bomb_zip.pth",
        "legacy_storage_2e60_elements.pth", "zip_name_traversal.pth"}) {
    const testing::Result r = testing::cli("import " + hostile(name) + " -o " + (out / "w.h5"));
    EXPECT_EQ(r.code, 1) << name << ": " << r.output;
    EXPECT_EQ(r.output.rfind("afinar: error: ", 0), 0u) << name << ": " << r.output;
    EXPECT_NE(r.output.find(expected_refusals().at(name)), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << name << ": " << r.output;
    EXPECT_FALSE(fs::exists(out / "w.h5")) << name << ": left an output file";
  }
  EXPECT_FALSE(fs::exists(kMarker)) << "a payload ran";
}

}  // namespace
}  // namespace afinar
