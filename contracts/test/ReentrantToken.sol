// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken (test only)
/// @notice A malicious ERC-20: once armed, its next transfer calls `target` with `data` from
///         inside the token transfer, i.e. while the calling protocol contract is mid-function.
///         With `bubble` the re-entrant call's revert is re-thrown (the outer call fails with the
///         inner error); without it the failure is only recorded.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public data;
    bool public bubble;
    bool public armed;
    /// @notice Number of re-entrant calls attempted and how many of them succeeded.
    uint256 public attempts;
    uint256 public successes;
    /// @notice Revert data of the last failed re-entrant call.
    bytes public lastError;

    constructor() ERC20("Reentrant Token", "EVIL") {}

    /// @notice Anyone may mint (test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Make the next transfer call `target_` with `data_`.
    function arm(address target_, bytes calldata data_, bool bubble_) external {
        target = target_;
        data = data_;
        bubble = bubble_;
        armed = true;
    }

    /// @notice Stop attacking.
    function disarm() external {
        armed = false;
    }

    /// @notice Call any contract as this token (to approve, deposit, stake ... as an account).
    function execute(address to, bytes calldata callData) external returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call(callData);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (!armed) return;
        armed = false;
        attempts += 1;
        (bool ok, bytes memory ret) = target.call(data);
        if (ok) {
            successes += 1;
            return;
        }
        lastError = ret;
        if (bubble) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
